use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(breaker(failure_rate = 1.5)))]
pub struct P;

fn main() {}
