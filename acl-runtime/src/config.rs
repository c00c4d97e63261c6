//! Policies as plain data: what the code generator and the derive macros emit, and what
//! a service reads from its configuration file. Every field has a default; building
//! checks the values and says which one is wrong.
//!
//! Durations are written as `"250ms"`, `"10s"`, `"5m"`, `"1h"`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::{BreakerConfig, CircuitBreaker, Window};
use crate::classify::Idempotency;
use crate::pipeline::{Operation, System};
use crate::rate_limit::{Algorithm, RateLimiter};
use crate::retry::{Backoff, BackoffKind, Jitter, RetryBudget, RetryPolicy};

/// A configuration value that cannot work, with the path of the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Which setting (`retry.max_attempts`).
    pub path: String,
    /// Why.
    pub message: String,
}

fn err(path: &str, e: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Parses `"250ms"`, `"10s"`, `"5m"`, `"1h"` (and `"1.5s"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (ms, s, m, h)"))?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{text}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{text}`: {e}"))
}

mod duration_text {
    use super::*;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Retry settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts, the first included (default 3).
    pub max_attempts: u32,
    /// Time for the whole call including waits (default 30 s).
    #[serde(with = "duration_text")]
    pub max_total: Duration,
    /// `exponential` (default), `linear` or `fixed`.
    pub backoff: String,
    /// First delay (default 200 ms).
    #[serde(with = "duration_text")]
    pub base: Duration,
    /// Longest delay (default 10 s).
    #[serde(with = "duration_text")]
    pub max_delay: Duration,
    /// `full` (default), `equal`, `decorrelated` or `none`.
    pub jitter: String,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_total: Duration::from_secs(30),
            backoff: "exponential".into(),
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            jitter: "full".into(),
        }
    }
}

impl RetryConfig {
    /// The policy these settings describe.
    pub fn build(&self) -> Result<RetryPolicy, ConfigError> {
        let kind = match self.backoff.as_str() {
            "exponential" => BackoffKind::Exponential { multiplier: 2.0 },
            "linear" => BackoffKind::Linear,
            "fixed" => BackoffKind::Fixed,
            other => {
                return Err(err(
                    "retry.backoff",
                    format!("`{other}` is not exponential, linear or fixed"),
                ))
            }
        };
        let jitter = match self.jitter.as_str() {
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            "none" => Jitter::None,
            other => {
                return Err(err(
                    "retry.jitter",
                    format!("`{other}` is not full, equal, decorrelated or none"),
                ))
            }
        };
        let backoff =
            Backoff::new(kind, self.base, self.max_delay, jitter).map_err(|e| err("retry", e))?;
        RetryPolicy::new(self.max_attempts, self.max_total, backoff).map_err(|e| err("retry", e))
    }
}

/// Breaker settings (resilience4j's names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerSettings {
    /// Calls in a count window (default 100); ignored with `window_time`.
    pub window_calls: u32,
    /// A time window instead of a count window.
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub window_time: Option<Duration>,
    /// Failure rate that opens it (default 0.5).
    pub failure_rate: f64,
    /// Slow-call rate that opens it (default 1.0).
    pub slow_call_rate: f64,
    /// What counts as slow (default 60 s).
    #[serde(with = "duration_text")]
    pub slow_call_duration: Duration,
    /// Calls before rates count (default 100).
    pub min_calls: u32,
    /// Failures in a row that open it.
    pub consecutive_failures: Option<u32>,
    /// Time open (default 60 s).
    #[serde(with = "duration_text")]
    pub open_for: Duration,
    /// Growth per reopening (default 1.0).
    pub open_multiplier: f64,
    /// Probes in half-open (default 10).
    pub half_open_permits: u32,
}

mod opt_duration {
    use super::*;
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format!("{}ms", d.as_millis())),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Default for BreakerSettings {
    fn default() -> Self {
        let d = BreakerConfig::default();
        Self {
            window_calls: 100,
            window_time: None,
            failure_rate: d.failure_rate,
            slow_call_rate: d.slow_call_rate,
            slow_call_duration: d.slow_call_duration,
            min_calls: d.minimum_calls,
            consecutive_failures: None,
            open_for: d.open_for,
            open_multiplier: d.open_multiplier,
            half_open_permits: d.half_open_permits,
        }
    }
}

impl BreakerSettings {
    /// The breaker these settings describe.
    pub fn build(&self) -> Result<CircuitBreaker, ConfigError> {
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

/// One external system: breaker, retry budget, outbound rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    /// The breaker.
    pub breaker: BreakerSettings,
    /// Retries may be this fraction of recent calls (default 0.2).
    pub retry_budget_ratio: f64,
    /// ... plus this many per second (default 10).
    pub retry_budget_min_per_second: u32,
    /// Outbound calls per second (token bucket); none by default.
    pub rate_limit_per_second: Option<f64>,
    /// Burst for the rate limit (default 1).
    pub rate_limit_burst: u32,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            breaker: BreakerSettings::default(),
            retry_budget_ratio: 0.2,
            retry_budget_min_per_second: 10,
            rate_limit_per_second: None,
            rate_limit_burst: 1,
        }
    }
}

impl SystemConfig {
    /// The system these settings describe.
    pub fn build(&self, name: &str) -> Result<System, ConfigError> {
        let budget = RetryBudget::new(
            Duration::from_secs(10),
            self.retry_budget_ratio,
            self.retry_budget_min_per_second,
        )
        .map_err(|e| err(&format!("retry_budget_{}", e.field), e.reason))?;
        let mut system = System::new(name, self.breaker.build()?, budget);
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

/// One operation: timeout, deadline, retries, idempotency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperationConfig {
    /// Per attempt (default 10 s). Never zero: every outbound call has a timeout.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// The whole call (default 30 s).
    #[serde(with = "duration_text")]
    pub deadline: Duration,
    /// Retries.
    pub retry: RetryConfig,
    /// Safe to repeat (default: from the method).
    pub idempotent: Option<bool>,
    /// The request carries an idempotency key reused across attempts.
    pub idempotency_key: bool,
}

impl Default for OperationConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            retry: RetryConfig::default(),
            idempotent: None,
            idempotency_key: false,
        }
    }
}

impl OperationConfig {
    /// The operation `name` (HTTP `method`) of `system`.
    pub fn build(
        &self,
        name: &str,
        method: &str,
        system: Arc<System>,
    ) -> Result<Operation, ConfigError> {
        let idempotency = match self.idempotent {
            Some(true) => Idempotency::Idempotent,
            Some(false) if self.idempotency_key => Idempotency::Keyed,
            Some(false) => Idempotency::Unsafe,
            None => Idempotency::of(method, self.idempotency_key),
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

/// The closest of `known` to `word` (edit distance, case-insensitive), when it is
/// close enough to be a typo: for "did you mean" help.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + (ca != *cb) as usize).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(&word.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
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
        assert!(none
            .build("op", "GET", sys)
            .unwrap_err()
            .message
            .contains("max_attempts"));
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
