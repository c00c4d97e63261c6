use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(op(id = "getCharge", rate_limit(per_second = 5)))]
pub struct P;

fn main() {}
