//! A time-based sliding window of counts, cut into a fixed number of buckets, so that
//! adding to it is O(1) and its memory is fixed whatever the event rate. Used by the
//! breaker's time window.
//!
//! An event leaves the window within `window / buckets` of its exact expiry; that is
//! the price of not keeping one timestamp per event (resilience4j makes the same trade
//! with one-second buckets).

use std::time::{Duration, Instant};

use crate::clock::tick_of;

/// Counts that can be added and taken away.
pub(crate) trait Counts: Copy + Default {
    /// `self += other`.
    fn add(&mut self, other: Self);
    /// `self -= other` (`other` was added before).
    fn remove(&mut self, other: Self);
}

/// The window. Slot `s` holds the events of the clock ticks `[s * bucket, (s + 1) *
/// bucket)`, so that counts kept elsewhere (the breaker's lock-free successes) can name
/// their bucket the same way.
#[derive(Debug, Clone)]
pub(crate) struct TimeBuckets<C> {
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
            bucket: ((window / buckets).as_nanos() as u64).max(1),
            slots: vec![(0, C::default()); buckets as usize],
            head: 0,
            total: C::default(),
        }
    }

    /// Bucket length in nanoseconds.
    pub(crate) fn bucket_nanos(&self) -> u64 {
        self.bucket
    }

    /// The slot of `now`.
    pub(crate) fn slot_of(&self, now: Instant) -> u64 {
        tick_of(now) / self.bucket
    }

    /// Moves the window to `slot`: buckets it has passed are emptied.
    fn advance(&mut self, slot: u64) {
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
        self.advance(self.slot_of(now));
        let n = self.slots.len() as u64;
        self.slots[(self.head % n) as usize].1.add(counts);
        self.total.add(counts);
        self.total
    }

    /// Adds `counts` to the bucket of `slot`: a slot ahead of the window moves it there;
    /// one that has left the window is dropped, as its events would have been by now.
    pub(crate) fn add_at_slot(&mut self, slot: u64, counts: C) {
        self.advance(slot);
        let n = self.slots.len() as u64;
        let (at, bucket) = &mut self.slots[(slot % n) as usize];
        if *at == slot {
            bucket.add(counts);
            self.total.add(counts);
        }
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
