//! acl's policies as plain data: what a service reads from its configuration, what the
//! code generator reads from `x-acl-*` extensions and what `#[derive(Policies)]` checks
//! at compile time. Every field has a default; `validate` says which value is wrong.
//! The runtime builds breakers, budgets and pipelines from these (`acl_runtime::resilience::config`).
//!
//! Its own crate so that the code generator and the derive macros can check settings
//! without depending on the runtime (which re-exports the derives).
//!
//! Durations are written as `"250ms"`, `"10s"`, `"5m"`, `"1h"`.
#![deny(missing_docs)]

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A configuration value that cannot work, with the path of the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Which setting (`retry.max_attempts`).
    pub path: String,
    /// Why.
    pub message: String,
}

/// An error for the setting at `path`.
pub fn err(path: &str, e: impl std::fmt::Display) -> ConfigError {
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

pub mod pattern;

/// Durations as text (`"250ms"`), for serde.
pub mod duration_text {
    use super::*;
    /// Writes the duration.
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }
    /// Reads the duration.
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

/// Optional durations as text, for serde.
pub mod opt_duration {
    use super::*;
    /// Writes the duration.
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format!("{}ms", d.as_millis())),
            None => s.serialize_none(),
        }
    }
    /// Reads the duration.
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
        // resilience4j's defaults, as the runtime's `BreakerConfig::default`.
        Self {
            window_calls: 100,
            window_time: None,
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call_duration: Duration::from_secs(60),
            min_calls: 100,
            consecutive_failures: None,
            open_for: Duration::from_secs(60),
            open_multiplier: 1.0,
            half_open_permits: 10,
        }
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
    /// Outbound calls per second (token bucket; default 100, as every outbound call has
    /// a rate limit); `None` turns the limit off.
    pub rate_limit_per_second: Option<f64>,
    /// Burst for the rate limit (default 100).
    pub rate_limit_burst: u32,
    /// Read the time from the CPU's counter instead of tokio's clock (cheaper per call;
    /// paused tokio time does not move it, so leave it off in paused tests).
    pub fast_clock: bool,
}

/// The default outbound rate limit of a system (calls per second).
pub const DEFAULT_RATE_LIMIT_PER_SECOND: f64 = 100.0;
/// The default burst of that limit.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 100;

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            breaker: BreakerSettings::default(),
            retry_budget_ratio: 0.2,
            retry_budget_min_per_second: 10,
            rate_limit_per_second: Some(DEFAULT_RATE_LIMIT_PER_SECOND),
            rate_limit_burst: DEFAULT_RATE_LIMIT_BURST,
            fast_clock: false,
        }
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
    /// The header that carries it, when the contract does not declare one
    /// (`Idempotency-Key`); setting it implies `idempotency_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_header: Option<String>,
    /// The largest response body read, in bytes (default 64 MiB). A larger one is an
    /// invalid body (`Error::InvalidBody` naming the size), never read whole: a vendor
    /// (or whoever answers in its place) must not be able to exhaust the service's memory.
    pub max_response_body: u64,
}

/// The default of [`OperationConfig::max_response_body`].
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 64 << 20;

impl Default for OperationConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            retry: RetryConfig::default(),
            idempotent: None,
            idempotency_key: false,
            idempotency_header: None,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }
}

impl RetryConfig {
    /// Checks the settings as the runtime's `RetryPolicy` and `Backoff` constructors do.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(err(
                "retry.max_attempts",
                "must be at least 1 (the first attempt)",
            ));
        }
        if self.max_total.is_zero() {
            return Err(err("retry.max_total", "must be more than zero"));
        }
        if !matches!(self.backoff.as_str(), "exponential" | "linear" | "fixed") {
            return Err(err(
                "retry.backoff",
                format!("`{}` is not exponential, linear or fixed", self.backoff),
            ));
        }
        if !matches!(
            self.jitter.as_str(),
            "full" | "equal" | "decorrelated" | "none"
        ) {
            return Err(err(
                "retry.jitter",
                format!("`{}` is not full, equal, decorrelated or none", self.jitter),
            ));
        }
        if self.max_delay < self.base {
            return Err(err("retry.max_delay", "must not be below the base delay"));
        }
        Ok(())
    }
}

impl BreakerSettings {
    /// Checks the settings as the runtime's `BreakerConfig::validate` does.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rate = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        let bad = |field: &str, reason: &str| Err(err(&format!("breaker.{field}"), reason));
        if !rate(self.failure_rate) {
            return bad("failure_rate", "must be above 0 and at most 1");
        }
        if !rate(self.slow_call_rate) {
            return bad("slow_call_rate", "must be above 0 and at most 1");
        }
        if self.window_time.is_some_and(|t| t.is_zero()) {
            return bad("window_time", "must be longer than zero");
        }
        if self.window_time.is_none() && self.window_calls == 0 {
            return bad("window_calls", "must hold at least one call");
        }
        if self.min_calls == 0 {
            return bad("min_calls", "must be at least 1");
        }
        if self.consecutive_failures == Some(0) {
            return bad("consecutive_failures", "must be at least 1 when set");
        }
        if self.open_for.is_zero() {
            return bad("open_for", "must be longer than zero");
        }
        if !(self.open_multiplier.is_finite() && self.open_multiplier >= 1.0) {
            return bad("open_multiplier", "must be at least 1");
        }
        if self.half_open_permits == 0 {
            return bad("half_open_permits", "must be at least 1");
        }
        Ok(())
    }
}

impl SystemConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.breaker.validate()?;
        if !(self.retry_budget_ratio.is_finite()
            && (0.0..=1000.0).contains(&self.retry_budget_ratio))
        {
            return Err(err("retry_budget_ratio", "must be between 0 and 1000"));
        }
        if let Some(rate) = self.rate_limit_per_second {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(err("rate_limit_per_second", "the rate must be above zero"));
            }
            if self.rate_limit_burst == 0 {
                return Err(err("rate_limit_burst", "the burst must be at least 1"));
            }
        }
        Ok(())
    }
}

impl OperationConfig {
    /// Checks the settings: every outbound call has a timeout above zero, within its
    /// deadline, and at least one attempt.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return Err(err(
                "timeout",
                "must be longer than zero: every outbound call needs one",
            ));
        }
        if self.deadline < self.timeout {
            return Err(err("deadline", "must not be shorter than the timeout"));
        }
        if self.max_response_body == 0 {
            return Err(err("max_response_body", "must be more than zero"));
        }
        self.retry.validate()
    }

    /// Whether repeating the operation is safe: marked idempotent, a method that is
    /// (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), or a request carrying a key.
    pub fn safe_to_repeat(&self, method: &str) -> bool {
        let keyed = self.idempotency_key || self.idempotency_header.is_some();
        match self.idempotent {
            Some(true) => true,
            Some(false) => keyed,
            None => {
                keyed
                    || matches!(
                        method.to_ascii_uppercase().as_str(),
                        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
                    )
            }
        }
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

/// Lays `from` over `into`: objects merge key by key (recursively), anything else is
/// replaced. How settings layers combine (defaults, contract extensions, code).
pub fn merge_json(into: &mut serde_json::Value, from: &serde_json::Value) {
    use serde_json::Value;
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) => merge_json(slot, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_setting_and_repeat_safety_follows_method_mark_and_key() {
        let mut c = OperationConfig::default();
        assert!(c.validate().is_ok());
        c.retry.jitter = "some".into();
        assert_eq!(c.validate().unwrap_err().path, "retry.jitter");
        let c = OperationConfig {
            deadline: Duration::from_secs(1),
            ..OperationConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().path, "deadline");
        let mut s = SystemConfig::default();
        s.breaker.failure_rate = 1.5;
        assert_eq!(s.validate().unwrap_err().path, "breaker.failure_rate");
        let mut c = OperationConfig::default();
        assert!(c.safe_to_repeat("GET") && !c.safe_to_repeat("POST"));
        c.idempotency_header = Some("Idempotency-Key".into());
        assert!(c.safe_to_repeat("POST"));
        c = OperationConfig {
            idempotent: Some(false),
            ..OperationConfig::default()
        };
        assert!(!c.safe_to_repeat("GET"));
        assert_eq!(
            closest("max_attempt", &["max_attempts", "jitter"]),
            Some("max_attempts")
        );
        assert_eq!(closest("zzz", &["max_attempts"]), None);
    }
}
