//! One external system's settings: its breaker, its retry budget and its outbound rate
//! limit, shared by every operation of the system.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{err, BreakerConfig, ConfigError};

/// The outbound rate limit of a system (a token bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Calls per second (default 100).
    pub per_second: f64,
    /// Calls allowed at once after a quiet spell (default: one second's worth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// The default outbound rate limit of a system (calls per second).
pub const DEFAULT_RATE_LIMIT_PER_SECOND: f64 = 100.0;

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: DEFAULT_RATE_LIMIT_PER_SECOND,
            burst: None,
        }
    }
}

impl RateLimitConfig {
    /// The burst: as set, or one second's worth of calls (at least 1).
    pub fn burst(&self) -> u32 {
        self.burst
            .unwrap_or_else(|| self.per_second.ceil().clamp(1.0, u32::MAX as f64) as u32)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(err("rate_limit.per_second", "the rate must be above zero"));
        }
        if self.burst == Some(0) {
            return Err(err("rate_limit.burst", "must be at least 1"));
        }
        Ok(())
    }
}

/// How many retries a system takes right now: a fraction of recent calls plus a floor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetConfig {
    /// Retries may be this fraction of recent calls (default 0.2).
    pub ratio: f64,
    /// ... plus this many per second (default 10).
    pub min_per_second: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_second: 10,
        }
    }
}

impl RetryBudgetConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.ratio.is_finite() && (0.0..=1000.0).contains(&self.ratio)) {
            return Err(err("retry_budget.ratio", "must be between 0 and 1000"));
        }
        Ok(())
    }
}

/// One external system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    /// The breaker; `"off"` for none (default: on, with resilience4j's settings).
    #[serde(serialize_with = "off_or", deserialize_with = "breaker_or_off")]
    pub breaker: Option<BreakerConfig>,
    /// The retry budget.
    pub retry_budget: RetryBudgetConfig,
    /// The outbound rate limit; `"off"` for none (default: 100 calls per second, as
    /// every outbound call has a rate limit).
    #[serde(serialize_with = "off_or", deserialize_with = "rate_limit_or_off")]
    pub rate_limit: Option<RateLimitConfig>,
    /// Read the time from the CPU's counter instead of tokio's clock (cheaper per call;
    /// paused tokio time does not move it, so leave it off in paused tests).
    pub fast_clock: bool,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            breaker: Some(BreakerConfig::default()),
            retry_budget: RetryBudgetConfig::default(),
            rate_limit: Some(RateLimitConfig::default()),
            fast_clock: false,
        }
    }
}

impl SystemConfig {
    /// The breaker's settings to change, switching it on (with the defaults) if off.
    pub fn breaker_mut(&mut self) -> &mut BreakerConfig {
        self.breaker.get_or_insert_with(BreakerConfig::default)
    }

    /// The rate limit's settings to change, switching it on (with the defaults) if off.
    pub fn rate_limit_mut(&mut self) -> &mut RateLimitConfig {
        self.rate_limit.get_or_insert_with(RateLimitConfig::default)
    }

    /// Checks the settings; the error names the one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(b) = &self.breaker {
            b.validate()?;
        }
        self.retry_budget.validate()?;
        if let Some(r) = &self.rate_limit {
            r.validate()?;
        }
        Ok(())
    }
}

fn off_or<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => t.serialize(s),
        None => s.serialize_str("off"),
    }
}

fn breaker_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BreakerConfig>, D::Error> {
    crate::switch::optional(d, "off")
}

fn rate_limit_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RateLimitConfig>, D::Error> {
    crate::switch::optional(d, "off")
}
