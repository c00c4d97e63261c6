use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(timeout = "5 parsecs"))]
pub struct P;

fn main() {}
