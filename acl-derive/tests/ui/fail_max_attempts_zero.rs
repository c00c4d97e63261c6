use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(op(id = "getCharge", retry(max_attempts = 0)))]
pub struct P;

fn main() {}
