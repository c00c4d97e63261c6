use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "contracts/missing.yaml")]
pub struct P;

fn main() {}
