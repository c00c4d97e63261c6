//! A retry budget per external system: retries may add at most `ratio` of the recent
//! calls, plus `min_per_second` so that a quiet system can still be retried.
//! Time is passed in, so the budget is deterministic under test.
//!
//! Every call deposits, so depositing is on the happy path: it is one atomic
//! compare-and-swap on a bucket (a lock and a bucket walk cost three times as much, in
//! `benches/overhead`). Withdrawing, on the retry path only, takes a lock so that
//! concurrent retries cannot overdraw.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::InvalidRetry;
use crate::resilience::clock::{tick_of, Tick};
use crate::resilience::window::AtomicBuckets;

/// Buckets the window is cut into: counts leave it within a tenth of its length.
const BUCKETS: u32 = 10;

/// Shared by every operation to one external system.
#[derive(Debug)]
pub struct RetryBudget {
    window: Duration,
    ratio: f64,
    min_per_second: u32,
    /// First attempts per time slot.
    calls: AtomicBuckets,
    /// Retries per time slot.
    retries: AtomicBuckets,
    withdrawing: Mutex<()>,
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
            calls: AtomicBuckets::new(window, BUCKETS),
            retries: AtomicBuckets::new(window, BUCKETS),
            withdrawing: Mutex::new(()),
        })
    }

    /// Records a first attempt (every logical call deposits into the budget).
    pub fn deposit(&self, now: Instant) {
        self.deposit_at(tick_of(now));
    }

    /// [`RetryBudget::deposit`] at a tick of the pipeline's clock.
    #[inline]
    pub(crate) fn deposit_at(&self, now: Tick) {
        self.calls.add(self.calls.slot(now));
    }

    /// How much of the budget the last window used: (retries made, retries allowed).
    pub fn usage(&self, now: Instant) -> (u64, u64) {
        let slot = self.calls.slot(tick_of(now));
        let floor = self.min_per_second as f64 * self.window.as_secs_f64();
        let allowed = floor + self.ratio * self.calls.total(slot) as f64;
        (self.retries.total(slot), allowed.floor() as u64)
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_withdraw(&self, now: Instant) -> bool {
        self.try_withdraw_at(tick_of(now))
    }

    /// [`RetryBudget::try_withdraw`] at a tick of the pipeline's clock.
    pub(crate) fn try_withdraw_at(&self, now: Tick) -> bool {
        let _one_at_a_time = self.withdrawing.lock().unwrap_or_else(|p| p.into_inner());
        let slot = self.calls.slot(now);
        let floor = self.min_per_second as f64 * self.window.as_secs_f64();
        let allowed = floor + self.ratio * self.calls.total(slot) as f64;
        if (self.retries.total(slot) as f64) < allowed.floor() {
            self.retries.add(slot);
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
    fn deposits_from_many_threads_all_count() {
        let b = std::sync::Arc::new(RetryBudget::new(Duration::from_secs(60), 0.01, 0).unwrap());
        let t0 = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || (0..25_000).for_each(|_| b.deposit(t0)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // 1 % of 100,000 calls: exactly 1,000 retries, not one more.
        assert_eq!((0..1_001).filter(|_| b.try_withdraw(t0)).count(), 1_000);
    }

    proptest::proptest! {
        /// Against a recount of the deposits: every deposit younger than
        /// `window - bucket` counts, none older than `window` does.
        #[test]
        fn the_window_matches_a_recount_within_one_bucket(
            mut at_ms in proptest::collection::vec(0u64..40_000, 1..200),
        ) {
            at_ms.sort_unstable();
            let b = RetryBudget::new(Duration::from_secs(5), 1.0, 0).unwrap();
            let t0 = tick_of(Instant::now());
            for (i, ms) in at_ms.iter().enumerate() {
                let at = t0 + ms * 1_000_000;
                b.deposit_at(at);
                let total = b.calls.total(b.calls.slot(at));
                let seen = &at_ms[..=i];
                let surely_in = seen.iter().filter(|t| ms - *t < 4_500).count() as u64;
                let maybe_in = seen.iter().filter(|t| ms - *t < 5_000).count() as u64;
                proptest::prop_assert!(surely_in <= total && total <= maybe_in,
                    "{} <= {} <= {} at {} ms", surely_in, total, maybe_in, ms);
            }
        }
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
