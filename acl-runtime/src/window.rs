//! A time-based sliding window of counts, cut into a fixed number of buckets, so that
//! adding to it is O(1) and its memory is fixed whatever the event rate. Used by the
//! breaker's time window.
//!
//! An event leaves the window within `window / buckets` of its exact expiry; that is
//! the price of not keeping one timestamp per event (resilience4j makes the same trade
//! with one-second buckets).

use std::time::{Duration, Instant};

/// Counts that can be added and taken away.
pub(crate) trait Counts: Copy + Default {
    /// `self += other`.
    fn add(&mut self, other: Self);
    /// `self -= other` (`other` was added before).
    fn remove(&mut self, other: Self);
}

/// The window.
#[derive(Debug, Clone)]
pub(crate) struct TimeBuckets<C> {
    epoch: Option<Instant>,
    /// Bucket length in nanoseconds (u64: a u128 division cost more than the rest).
    bucket: u64,
    /// Bucket `i` holds the events of slot `slots[i].0`.
    slots: Vec<(u64, C)>,
    head: u64,
    total: C,
}

impl<C: Counts> TimeBuckets<C> {
    /// A window of `window`, in `buckets` buckets (at least one).
    pub(crate) fn new(window: Duration, buckets: u32) -> Self {
        let buckets = buckets.max(1);
        Self {
            epoch: None,
            bucket: ((window / buckets).as_nanos() as u64).max(1),
            slots: vec![(0, C::default()); buckets as usize],
            head: 0,
            total: C::default(),
        }
    }

    /// Moves the window to `now`: buckets it has passed are emptied.
    fn advance(&mut self, now: Instant) {
        let epoch = *self.epoch.get_or_insert(now);
        let slot = now.saturating_duration_since(epoch).as_nanos() as u64 / self.bucket;
        if slot > self.head {
            let n = self.slots.len() as u64;
            // At most every bucket once, however far the clock jumped.
            for s in (self.head + 1..=slot).rev().take(self.slots.len()) {
                let (at, counts) = &mut self.slots[(s % n) as usize];
                self.total.remove(*counts);
                *at = s;
                *counts = C::default();
            }
            self.head = slot;
        }
    }

    /// Adds `counts` at `now` (an event reported late counts in the newest bucket),
    /// and returns the window's totals.
    pub(crate) fn add(&mut self, now: Instant, counts: C) -> C {
        self.advance(now);
        let n = self.slots.len() as u64;
        self.slots[(self.head % n) as usize].1.add(counts);
        self.total.add(counts);
        self.total
    }
}

impl Counts for u32 {
    fn add(&mut self, other: Self) {
        *self += other;
    }
    fn remove(&mut self, other: Self) {
        *self -= other;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a recount of timestamps: every event younger than
        /// `window - bucket` counts, no event older than `window` does.
        #[test]
        fn totals_match_a_recount_within_one_bucket(
            mut at_ms in proptest::collection::vec(0u64..20_000, 1..200),
        ) {
            at_ms.sort_unstable();
            let window = Duration::from_secs(5);
            let t0 = Instant::now();
            let mut w = TimeBuckets::<u32>::new(window, 10);
            for (i, ms) in at_ms.iter().enumerate() {
                let total = w.add(t0 + Duration::from_millis(*ms), 1);
                let seen = &at_ms[..=i];
                let surely_in = seen.iter().filter(|t| ms - *t < 4_500).count() as u32;
                let maybe_in = seen.iter().filter(|t| ms - *t < 5_000).count() as u32;
                prop_assert!(surely_in <= total && total <= maybe_in,
                    "{surely_in} <= {total} <= {maybe_in} at {ms}");
            }
        }
    }
}
