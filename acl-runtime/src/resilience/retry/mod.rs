//! Retries: how long to wait between attempts ([`Backoff`]), when to stop
//! ([`RetryPolicy`]), and how many retries an external system can take right now
//! ([`RetryBudget`]).
//!
//! Why a budget: when an external system degrades, every caller retrying every failed
//! call multiplies its load by the number of attempts, exactly when it can take least.
//! A budget allows retries only up to a fraction of recent calls (plus a small floor),
//! so a recovering system sees at most `1 + ratio` times its normal load.

mod backoff;
mod budget;

pub use backoff::{Backoff, BackoffKind, Jitter};
pub use budget::RetryBudget;

use std::time::Duration;

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid retry setting `{field}`: {reason}")]
pub struct InvalidRetry {
    /// The setting.
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// When to stop retrying.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    max_total: Duration,
    backoff: Backoff,
}

/// Why the last attempt was the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The attempts ran out.
    MaxAttempts,
    /// Waiting again would pass the total time allowed.
    MaxTotalTime,
    /// The external system's retry budget is spent.
    BudgetExhausted,
    /// The failure is not worth retrying (permanent, invalid data, unsafe to repeat).
    NotRetryable,
}

impl RetryPolicy {
    /// `max_attempts` counts the first try (1 means no retry); `max_total` bounds the
    /// time spent waiting and trying.
    pub fn new(
        max_attempts: u32,
        max_total: Duration,
        backoff: Backoff,
    ) -> Result<Self, InvalidRetry> {
        if max_attempts == 0 {
            return Err(InvalidRetry {
                field: "max_attempts",
                reason: "must be at least 1 (the first attempt)",
            });
        }
        if max_total.is_zero() {
            return Err(InvalidRetry {
                field: "max_total",
                reason: "must be more than zero",
            });
        }
        Ok(Self {
            max_attempts,
            max_total,
            backoff,
        })
    }

    /// No retry at all.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            max_total: Duration::MAX,
            backoff: Backoff::fixed(Duration::ZERO),
        }
    }

    /// The attempts allowed, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// After attempt number `attempt` (1-based) failed with `elapsed` spent so far:
    /// the delay before the next attempt, or why there is none. `server_delay` (from
    /// `Retry-After`) replaces the backoff when it is longer.
    pub fn next_delay(
        &self,
        attempt: u32,
        elapsed: Duration,
        previous_delay: Duration,
        server_delay: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Result<Duration, StopReason> {
        if attempt >= self.max_attempts {
            return Err(StopReason::MaxAttempts);
        }
        let mut delay = self.backoff.delay(attempt, previous_delay, rng);
        if let Some(server) = server_delay {
            delay = delay.max(server);
        }
        if elapsed.saturating_add(delay) >= self.max_total {
            return Err(StopReason::MaxTotalTime);
        }
        Ok(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_attempts_is_refused() {
        let e = RetryPolicy::new(0, Duration::from_secs(1), Backoff::fixed(Duration::ZERO))
            .unwrap_err();
        assert_eq!(e.field, "max_attempts");
    }

    #[test]
    fn stops_on_attempts_and_on_total_time() {
        let p = RetryPolicy::new(
            3,
            Duration::from_secs(10),
            Backoff::fixed(Duration::from_secs(2)),
        )
        .unwrap();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            p.next_delay(1, Duration::ZERO, Duration::ZERO, None, &mut rng),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            p.next_delay(3, Duration::ZERO, Duration::ZERO, None, &mut rng),
            Err(StopReason::MaxAttempts)
        );
        assert_eq!(
            p.next_delay(1, Duration::from_secs(9), Duration::ZERO, None, &mut rng),
            Err(StopReason::MaxTotalTime)
        );
        // A server asking for more than the backoff wins, within the total time.
        assert_eq!(
            p.next_delay(
                1,
                Duration::ZERO,
                Duration::ZERO,
                Some(Duration::from_secs(5)),
                &mut rng
            ),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            p.next_delay(
                1,
                Duration::ZERO,
                Duration::ZERO,
                Some(Duration::from_secs(30)),
                &mut rng
            ),
            Err(StopReason::MaxTotalTime)
        );
    }
}
