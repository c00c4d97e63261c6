use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(op(id = "createCharges", timeout = "5s"))]
pub struct P;

fn main() {}
