//! Policies as plain data (from `acl-policy`, re-exported), and how the runtime builds
//! breakers, budgets, limiters and pipeline operations from them. Building checks the
//! values and says which one is wrong.
//!
//! Durations are written as `"250ms"`, `"10s"`, `"5m"`, `"1h"`.

use std::sync::Arc;
use std::time::Duration;

pub use acl_policy::*;

use crate::resilience::breaker::{BreakerConfig, CircuitBreaker, Window};
use crate::resilience::classify::Idempotency;
use crate::resilience::pipeline::{Operation, System};
use crate::resilience::rate_limit::{Algorithm, RateLimiter};
use crate::resilience::retry::{Backoff, BackoffKind, Jitter, RetryBudget, RetryPolicy};

/// Builds a retry policy from [`RetryConfig`].
pub trait BuildRetry {
    /// The policy these settings describe.
    fn build(&self) -> Result<RetryPolicy, ConfigError>;
}

impl BuildRetry for RetryConfig {
    fn build(&self) -> Result<RetryPolicy, ConfigError> {
        self.validate()?;
        let kind = match self.backoff.as_str() {
            "linear" => BackoffKind::Linear,
            "fixed" => BackoffKind::Fixed,
            _ => BackoffKind::Exponential { multiplier: 2.0 },
        };
        let jitter = match self.jitter.as_str() {
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            "none" => Jitter::None,
            _ => Jitter::Full,
        };
        let backoff =
            Backoff::new(kind, self.base, self.max_delay, jitter).map_err(|e| err("retry", e))?;
        RetryPolicy::new(self.max_attempts, self.max_total, backoff).map_err(|e| err("retry", e))
    }
}

/// Builds a breaker from [`BreakerSettings`].
pub trait BuildBreaker {
    /// The breaker these settings describe.
    fn build(&self) -> Result<CircuitBreaker, ConfigError>;
}

impl BuildBreaker for BreakerSettings {
    fn build(&self) -> Result<CircuitBreaker, ConfigError> {
        CircuitBreaker::new(BreakerConfig {
            window: match self.window_time {
                Some(t) => Window::Time(t),
                None => Window::Count(self.window_calls),
            },
            failure_rate: self.failure_rate,
            slow_call_rate: self.slow_call_rate,
            slow_call_duration: self.slow_call_duration,
            minimum_calls: self.min_calls,
            consecutive_failures: self.consecutive_failures,
            open_for: self.open_for,
            open_multiplier: self.open_multiplier,
            max_open_for: self.open_for.max(Duration::from_secs(600)),
            half_open_permits: self.half_open_permits,
        })
        .map_err(|e| err(&format!("breaker.{}", e.field), e.reason))
    }
}

/// Builds a [`System`] from [`SystemConfig`].
pub trait BuildSystem {
    /// The system these settings describe.
    fn build(&self, name: &str) -> Result<System, ConfigError>;
}

impl BuildSystem for SystemConfig {
    fn build(&self, name: &str) -> Result<System, ConfigError> {
        let budget = RetryBudget::new(
            Duration::from_secs(10),
            self.retry_budget_ratio,
            self.retry_budget_min_per_second,
        )
        .map_err(|e| err(&format!("retry_budget_{}", e.field), e.reason))?;
        let mut system = System::new(name, self.breaker.build()?, budget);
        if self.fast_clock {
            system = system.clock(crate::resilience::clock::Clock::Tsc);
        }
        if let Some(rate) = self.rate_limit_per_second {
            let limiter = RateLimiter::in_memory(Algorithm::TokenBucket {
                rate,
                burst: self.rate_limit_burst,
            })
            .map_err(|e| err("rate_limit_per_second", e))?;
            system = system.rate_limited(limiter);
        }
        Ok(system)
    }
}

/// Builds a pipeline [`Operation`] from [`OperationConfig`].
pub trait BuildOperation {
    /// The operation `name` (HTTP `method`) of `system`.
    fn build(
        &self,
        name: &str,
        method: &str,
        system: Arc<System>,
    ) -> Result<Operation, ConfigError>;
}

impl BuildOperation for OperationConfig {
    fn build(
        &self,
        name: &str,
        method: &str,
        system: Arc<System>,
    ) -> Result<Operation, ConfigError> {
        let keyed = self.idempotency_key || self.idempotency_header.is_some();
        let idempotency = match self.idempotent {
            Some(true) => Idempotency::Idempotent,
            Some(false) if keyed => Idempotency::Keyed,
            Some(false) => Idempotency::Unsafe,
            None => Idempotency::of(method, keyed),
        };
        Operation::new(
            name,
            system,
            self.timeout,
            self.deadline,
            self.retry.build()?,
            idempotency,
        )
        .map_err(|e| err(e.0, e.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_refuse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn defaults_build_and_round_trip() {
        let sys = Arc::new(SystemConfig::default().build("vendor").unwrap());
        OperationConfig::default()
            .build("getThing", "GET", sys)
            .unwrap();
        let text = serde_json::to_string(&OperationConfig::default()).unwrap();
        let back: OperationConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, OperationConfig::default());
    }

    #[test]
    fn partial_settings_take_defaults_and_bad_ones_name_the_setting() {
        let c: OperationConfig =
            serde_json::from_str(r#"{"timeout": "5s", "retry": {"max_attempts": 5}}"#).unwrap();
        assert_eq!(
            (c.timeout, c.retry.max_attempts, c.deadline),
            (Duration::from_secs(5), 5, Duration::from_secs(30))
        );
        let sys = Arc::new(SystemConfig::default().build("v").unwrap());
        let zero: OperationConfig = serde_json::from_str(r#"{"timeout": "0ms"}"#).unwrap();
        assert_eq!(
            zero.build("op", "GET", sys.clone()).unwrap_err().path,
            "timeout"
        );
        let none: OperationConfig =
            serde_json::from_str(r#"{"retry": {"max_attempts": 0}}"#).unwrap();
        assert_eq!(
            none.build("op", "GET", sys).unwrap_err().path,
            "retry.max_attempts"
        );
        let rate: SystemConfig =
            serde_json::from_str(r#"{"breaker": {"failure_rate": 1.5}}"#).unwrap();
        assert_eq!(rate.build("v").unwrap_err().path, "breaker.failure_rate");
        assert!(
            serde_json::from_str::<OperationConfig>(r#"{"timeot": "1s"}"#).is_err(),
            "typos are refused"
        );
        assert!(serde_json::from_str::<OperationConfig>(r#"{"timeout": "soon"}"#).is_err());
    }
}
