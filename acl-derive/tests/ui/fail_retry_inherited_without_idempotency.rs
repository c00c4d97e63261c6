use acl_runtime::Policies;

// `createOrder` inherits `default(...)`'s retries, which the runtime would not make
// (a POST without an idempotency key): the same error as setting them on it.
#[derive(Policies)]
#[acl(contract = "tests/ui/orders.yaml")]
#[acl(default(retry(max_attempts = 4)))]
#[acl(op(id = "createOrder", timeout = "2s"))]
pub struct P;

fn main() {}
