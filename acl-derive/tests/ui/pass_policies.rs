// Every Policies attribute, on the Payments contract.
#![allow(clippy::duplicated_attributes)]
use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(
    timeout = "10s",
    deadline = "30s",
    retry(max_attempts = 3, backoff = "exponential", base = "200ms", max_delay = "5s", jitter = "full", max_total = "20s"),
    breaker(failure_rate = 0.5, slow_call_rate = 0.9, slow_call_duration = "2s", min_calls = 20, window = 50,
            open_for = "30s", open_multiplier = 2.0, half_open_calls = 3, consecutive_failures = 5),
    rate_limit(per_second = 20, burst = 40),
    retry_budget(ratio = 0.1, min_per_second = 5),
    max_response_body = 1048576
))]
#[acl(op(id = "createCharge", timeout = "5s", idempotency_key = "Idempotency-Key"))]
#[acl(op(id = "getCharge", timeout = "2s", retry(max_attempts = 5, multiplier = 3.0)))]
#[acl(op(id = "listCharges", retry = "none"))]
#[acl(op(id = "getReports", idempotent = true))]
pub struct PaymentsPolicies;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(breaker = "off", rate_limit(per_second = 5)))]
/// A breaker switched off on purpose; a time window elsewhere.
pub struct BreakerOff;

#[derive(Policies)]
#[acl(contract = "../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(breaker(window = "60s", max_open_for = "20m"), fast_clock))]
pub struct TimeWindow;

fn main() {}
