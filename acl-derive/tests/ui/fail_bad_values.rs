// Words outside the vocabulary, non-literal values and a setting given twice: each
// reported where it is written.
use acl_runtime::Policies;

const FIVE: u32 = 5;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(retry(jitter = "sometimes", backoff = "cubic"), timeout = FIVE))]
#[acl(op(id = "getCharge", deadline = "1s", deadline = "2s"))]
#[acl(op(id = "listCharges", rate_limit = "off"))]
pub struct P;

fn main() {}
