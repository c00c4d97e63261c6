use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(op(id = "getCharge", retry(max_attempt = 3)))]
pub struct P;

fn main() {}
