use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(op(id = "getCharge", timeout = "0s"))]
pub struct P;

fn main() {}
