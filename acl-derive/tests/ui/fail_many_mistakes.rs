use acl_runtime::Policies;

// Three mistakes, three errors, reported together.
#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(timeout = "ten seconds", retry(max_attempts = 0)))]
#[acl(op(id = "getCharges", timout = "1s"))]
pub struct P;

fn main() {}
