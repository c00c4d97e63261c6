use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(breaker = "on"))]
pub struct P;

fn main() {}
