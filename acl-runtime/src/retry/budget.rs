//! A retry budget per external system: retries may add at most `ratio` of the recent
//! calls, plus `min_per_second` so that a quiet system can still be retried.
//! Time is passed in, so the budget is deterministic under test.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::InvalidRetry;
use crate::window::{Counts, TimeBuckets};

/// Buckets the window is cut into: counts leave it within a tenth of its length.
const BUCKETS: u32 = 10;

/// Shared by every operation to one external system.
#[derive(Debug)]
pub struct RetryBudget {
    window: Duration,
    ratio: f64,
    min_per_second: u32,
    state: Mutex<TimeBuckets<Tally>>,
}

/// First attempts and retries in the window.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    calls: u32,
    retries: u32,
}

impl Counts for Tally {
    fn add(&mut self, other: Self) {
        self.calls += other.calls;
        self.retries += other.retries;
    }
    fn remove(&mut self, other: Self) {
        self.calls -= other.calls;
        self.retries -= other.retries;
    }
}

impl RetryBudget {
    /// Retries may be `ratio` (0 to 1000) of the calls in the last `window`, plus
    /// `min_per_second` every second.
    pub fn new(window: Duration, ratio: f64, min_per_second: u32) -> Result<Self, InvalidRetry> {
        if window.is_zero() {
            return Err(InvalidRetry {
                field: "window",
                reason: "must be more than zero",
            });
        }
        if !(ratio.is_finite() && (0.0..=1000.0).contains(&ratio)) {
            return Err(InvalidRetry {
                field: "ratio",
                reason: "must be between 0 and 1000",
            });
        }
        Ok(Self {
            window,
            ratio,
            min_per_second,
            state: Mutex::new(TimeBuckets::new(window, BUCKETS)),
        })
    }

    /// Records a first attempt (every logical call deposits into the budget).
    pub fn deposit(&self, now: Instant) {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        w.add(
            now,
            Tally {
                calls: 1,
                retries: 0,
            },
        );
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_withdraw(&self, now: Instant) -> bool {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        w.advance(now);
        let floor = self.min_per_second as f64 * self.window.as_secs_f64();
        let total = w.total();
        let allowed = floor + self.ratio * total.calls as f64;
        if (total.retries as f64) < allowed.floor() {
            w.add(
                now,
                Tally {
                    calls: 0,
                    retries: 1,
                },
            );
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_a_fraction_of_calls() {
        let b = RetryBudget::new(Duration::from_secs(10), 0.2, 0).unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            b.deposit(t0);
        }
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0));
        assert!(!b.try_withdraw(t0), "20% of 10 calls is 2 retries");
        // Once the window has passed, the old calls and retries no longer count.
        let later = t0 + Duration::from_secs(11);
        assert!(!b.try_withdraw(later), "no recent calls, no floor");
        for _ in 0..5 {
            b.deposit(later);
        }
        assert!(b.try_withdraw(later));
        assert!(!b.try_withdraw(later));
    }

    #[test]
    fn the_floor_allows_retries_on_a_quiet_system() {
        let b = RetryBudget::new(Duration::from_secs(1), 0.0, 3).unwrap();
        let t0 = Instant::now();
        assert!((0..3).all(|_| b.try_withdraw(t0)));
        assert!(!b.try_withdraw(t0));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(
            RetryBudget::new(Duration::ZERO, 0.1, 1).unwrap_err().field,
            "window"
        );
        assert_eq!(
            RetryBudget::new(Duration::from_secs(1), -1.0, 1)
                .unwrap_err()
                .field,
            "ratio"
        );
    }
}
