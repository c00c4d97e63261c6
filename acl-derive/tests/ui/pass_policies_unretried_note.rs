use acl_runtime::Policies;

// Operations not named keep the defaults; those not safe to repeat (`createOrder`,
// `updateOrder`) are listed in the impl's docs, and `getOrder` retries.
#[derive(Policies)]
#[acl(contract = "tests/ui/orders.yaml")]
#[acl(default(retry(max_attempts = 4)))]
#[acl(op(id = "getOrder", timeout = "2s"))]
pub struct P;

fn main() {
    assert!(<P as acl_runtime::client::Policies>::DEFAULTS.contains("\"max_attempts\":4"));
}
