use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(op(id = "post_charges_by_chargeId_refunds", retry(max_attempts = 3)))]
pub struct P;

fn main() {}
