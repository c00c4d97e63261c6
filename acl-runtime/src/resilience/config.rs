//! Policies as plain data (acl-policy's one settings model, re-exported here), and how
//! the runtime builds retry policies, systems (breaker, retry budget, rate limit) and
//! pipeline operations from them. Building checks the values with acl-policy's
//! `validate` and says which one is wrong.
//!
//! Durations are written as `"250ms"`, `"10s"`, `"5m"`, `"1h"`.

use std::sync::Arc;
use std::time::Duration;

pub use acl_policy::*;

use crate::resilience::breaker::CircuitBreaker;
use crate::resilience::pipeline::{Operation, System};
use crate::resilience::rate_limit::{Algorithm, RateLimiter};
use crate::resilience::retry::{Backoff, RetryBudget, RetryPolicy};

impl TryFrom<&RetryConfig> for RetryPolicy {
    type Error = ConfigError;

    fn try_from(c: &RetryConfig) -> Result<Self, ConfigError> {
        c.validate()?;
        let backoff = Backoff::new(c.backoff, c.base, c.max_delay, c.jitter)
            .and_then(|b| b.multiplier(c.multiplier))
            .map_err(|e| err(&format!("retry.{}", e.field), e.reason))?;
        RetryPolicy::new(c.max_attempts, c.max_total, backoff)
            .map_err(|e| err(&format!("retry.{}", e.field), e.reason))
    }
}

/// The token bucket a rate limit setting describes.
pub fn rate_limit_algorithm(c: &RateLimitConfig) -> Algorithm {
    Algorithm::TokenBucket {
        rate: c.per_second,
        burst: c.burst(),
    }
}

/// A breaker that never opens: what `breaker = "off"` builds (the pipeline always has one,
/// so that its metrics and spans stay the same).
fn breaker_off() -> CircuitBreaker {
    CircuitBreaker::new(BreakerConfig {
        min_calls: u32::MAX,
        window: Window::Calls(1),
        ..BreakerConfig::default()
    })
    .expect("valid settings")
}

impl System {
    /// The system `name` these settings describe.
    pub fn from_config(name: &str, c: &SystemConfig) -> Result<System, ConfigError> {
        c.validate()?;
        let budget = RetryBudget::new(
            Duration::from_secs(10),
            c.retry_budget.ratio,
            c.retry_budget.min_per_second,
        )
        .map_err(|e| err(&format!("retry_budget.{}", e.field), e.reason))?;
        let breaker = match &c.breaker {
            Some(b) => CircuitBreaker::new(b.clone())?,
            None => breaker_off(),
        };
        let mut system = System::new(name, breaker, budget);
        if c.fast_clock {
            system = system.clock(crate::resilience::clock::Clock::Tsc);
        }
        if let Some(limit) = &c.rate_limit {
            let limiter = RateLimiter::in_memory(rate_limit_algorithm(limit))
                .map_err(|e| err("rate_limit", e))?;
            system = system.rate_limited(limiter);
        }
        Ok(system)
    }
}

impl Operation {
    /// The operation `name` (HTTP `method`) of `system` these settings describe.
    pub fn from_config(
        name: &str,
        method: &str,
        system: Arc<System>,
        c: &OperationConfig,
    ) -> Result<Operation, ConfigError> {
        c.validate()?;
        Operation::new(
            name,
            system,
            c.timeout,
            c.deadline,
            RetryPolicy::try_from(&c.retry)?,
            c.idempotency(method),
        )
        .map_err(|e| err(e.0, e.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_and_off_builds_a_breaker_that_never_opens() {
        let sys = Arc::new(System::from_config("vendor", &SystemConfig::default()).unwrap());
        Operation::from_config("getThing", "GET", sys, &OperationConfig::default()).unwrap();
        let off = SystemConfig {
            breaker: None,
            rate_limit: None,
            ..SystemConfig::default()
        };
        System::from_config("vendor", &off).unwrap();
        let b = breaker_off();
        let t0 = std::time::Instant::now();
        for _ in 0..1000 {
            b.try_acquire(t0).unwrap().record(false, Duration::ZERO, t0);
        }
        assert_eq!(b.state(), crate::resilience::breaker::State::Closed);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let sys = Arc::new(System::from_config("v", &SystemConfig::default()).unwrap());
        let zero = OperationConfig {
            timeout: Duration::ZERO,
            ..OperationConfig::default()
        };
        let e = Operation::from_config("op", "GET", sys.clone(), &zero).unwrap_err();
        assert_eq!(e.path, "timeout");
        let mut none = OperationConfig::default();
        none.retry.max_attempts = 0;
        let e = Operation::from_config("op", "GET", sys, &none).unwrap_err();
        assert_eq!(e.path, "retry.max_attempts");
        let mut rate = SystemConfig::default();
        rate.breaker.as_mut().unwrap().failure_rate = 1.5;
        assert_eq!(
            System::from_config("v", &rate).unwrap_err().path,
            "breaker.failure_rate"
        );
        rate.breaker = None;
        rate.retry_budget.ratio = -1.0;
        assert_eq!(
            System::from_config("v", &rate).unwrap_err().path,
            "retry_budget.ratio"
        );
    }
}
