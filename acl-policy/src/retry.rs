//! Retry settings: how many attempts, how long in all, and the wait between them.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{duration, err, ConfigError};

/// How the delay grows with the attempt number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffKind {
    /// `base * multiplier^(attempt - 1)`.
    Exponential,
    /// `base * attempt`.
    Linear,
    /// `base` every time.
    Fixed,
}

/// Randomness added to each delay so that many clients do not retry in step (the
/// variants of "Exponential Backoff And Jitter", AWS Architecture Blog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// The computed delay, exactly.
    None,
    /// Uniform in `[0, delay]`.
    Full,
    /// `delay / 2` plus uniform in `[0, delay / 2]`.
    Equal,
    /// Uniform in `[base, previous * 3]`, capped: grows with the previous delay.
    Decorrelated,
}

/// Retry settings. Written `retry = "none"` (or `false`) for a single attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts, the first included (default 3).
    pub max_attempts: u32,
    /// Time for the whole call including waits (default 30 s).
    #[serde(with = "duration::text")]
    pub max_total: Duration,
    /// How the delay grows (default `exponential`).
    pub backoff: BackoffKind,
    /// Growth per attempt of an exponential backoff (default 2: doubling).
    pub multiplier: f64,
    /// First delay (default 200 ms).
    #[serde(with = "duration::text")]
    pub base: Duration,
    /// Longest delay (default 10 s).
    #[serde(with = "duration::text")]
    pub max_delay: Duration,
    /// Randomness in each delay (default `full`).
    pub jitter: Jitter,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_total: Duration::from_secs(30),
            backoff: BackoffKind::Exponential,
            multiplier: 2.0,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }
}

impl RetryConfig {
    /// A single attempt: what `retry = "none"` means.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Checks the settings; the error names the one that cannot work.
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
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(err("retry.multiplier", "must be a number of at least 1"));
        }
        if self.max_delay < self.base {
            return Err(err("retry.max_delay", "must not be below the base delay"));
        }
        Ok(())
    }
}

/// Reads `"none"`, `false` or the settings object: `#[serde(deserialize_with)]` for a
/// `RetryConfig` field.
pub(crate) fn none_or_settings<'de, D: Deserializer<'de>>(d: D) -> Result<RetryConfig, D::Error> {
    crate::switch::deserialize(d, "none", RetryConfig::none)
}
