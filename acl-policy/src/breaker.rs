//! Circuit breaker settings, in resilience4j's vocabulary and with its defaults.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{duration, err, ConfigError};

/// Which calls the closed breaker's sliding window holds. Written as a number of calls
/// (`window = 100`) or a duration (`window = "30s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `n` calls.
    Calls(u32),
    /// The calls of the last duration.
    Time(Duration),
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Window::Calls(n) => s.serialize_u32(*n),
            Window::Time(d) => s.serialize_str(&duration::format_duration(*d)),
        }
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Window;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of calls or a duration (\"30s\")")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Window, E> {
                u32::try_from(v)
                    .map(Window::Calls)
                    .map_err(|_| E::custom(format!("{v} calls is more than a window holds")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Window, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Window, E> {
                duration::parse_duration(v)
                    .map(Window::Time)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Breaker settings.
///
/// - **Closed**: calls pass; outcomes fill the `window`. Once it holds `min_calls`, a
///   failure rate at or above `failure_rate` (or a slow-call rate at or above
///   `slow_call_rate`) opens the circuit; so do `consecutive_failures` in a row.
/// - **Open** for `open_for` (times `open_multiplier` per reopening, up to
///   `max_open_for`): calls fail at once.
/// - **Half-open**: `half_open_calls` probes decide between open and closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// The sliding window (default: the last 100 calls).
    pub window: Window,
    /// Failure rate (0 < r ≤ 1) that opens the circuit (default 0.5).
    pub failure_rate: f64,
    /// Slow-call rate (0 < r ≤ 1) that opens the circuit (default 1.0).
    pub slow_call_rate: f64,
    /// A call slower than this is slow (default 60 s).
    #[serde(with = "duration::text")]
    pub slow_call_duration: Duration,
    /// Calls the window must hold before rates count (default 100).
    pub min_calls: u32,
    /// Failures in a row that open the circuit regardless of rates (default: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// How long the circuit stays open (default 60 s).
    #[serde(with = "duration::text")]
    pub open_for: Duration,
    /// Each reopening waits this much longer (default 1.0: the same).
    pub open_multiplier: f64,
    /// The longest wait when `open_multiplier` grows it (default 10 minutes; never
    /// shorter than `open_for`).
    #[serde(with = "duration::text")]
    pub max_open_for: Duration,
    /// Probes admitted in half-open (default 10).
    pub half_open_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Window::Calls(100),
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call_duration: Duration::from_secs(60),
            min_calls: 100,
            consecutive_failures: None,
            open_for: Duration::from_secs(60),
            open_multiplier: 1.0,
            max_open_for: Duration::from_secs(600),
            half_open_calls: 10,
        }
    }
}

impl BreakerConfig {
    /// Checks the settings; the error names the one that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rate = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        let bad = |field: &str, reason: &str| Err(err(&format!("breaker.{field}"), reason));
        if !rate(self.failure_rate) {
            return bad("failure_rate", "must be above 0 and at most 1");
        }
        if !rate(self.slow_call_rate) {
            return bad("slow_call_rate", "must be above 0 and at most 1");
        }
        match self.window {
            Window::Calls(0) => return bad("window", "must hold at least one call"),
            Window::Time(d) if d.is_zero() => return bad("window", "must be longer than zero"),
            _ => {}
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
        if self.half_open_calls == 0 {
            return bad("half_open_calls", "must be at least 1");
        }
        Ok(())
    }

    /// The longest time open: `max_open_for`, never below `open_for`.
    pub fn longest_open(&self) -> Duration {
        self.max_open_for.max(self.open_for)
    }
}
