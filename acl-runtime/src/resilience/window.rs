//! A time-based sliding window of counts, cut into a fixed number of buckets, so that
//! adding to it is O(1) and its memory is fixed whatever the event rate: under a lock
//! ([`TimeBuckets`], the breaker's time window), or one atomic per bucket
//! ([`AtomicBuckets`], the retry budget and the breaker's lock-free successes).
//!
//! An event leaves the window within `window / buckets` of its exact expiry; that is
//! the price of not keeping one timestamp per event (resilience4j makes the same trade
//! with one-second buckets).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::resilience::clock::{tick_of, Tick};

/// Bucket length in nanoseconds of a window cut into `buckets`.
fn bucket_nanos(window: Duration, buckets: u32) -> u64 {
    ((window / buckets.max(1)).as_nanos() as u64).max(1)
}

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
        Self {
            bucket: bucket_nanos(window, buckets),
            slots: vec![(0, C::default()); buckets.max(1) as usize],
            head: 0,
            total: C::default(),
        }
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

/// One count per time slot, kept without a lock: per bucket an `AtomicU64` holding
/// `slot << 32 | count` (the slot's low 32 bits; a bucket untouched for 2^32 slots
/// could be mistaken for a current one). Slots are numbered as [`TimeBuckets`] numbers
/// them for the same window and bucket count, so counts can move from one to the other.
#[derive(Debug)]
pub(crate) struct AtomicBuckets {
    bucket: u64,
    cells: Box<[AtomicU64]>,
}

fn unpack(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

fn pack(slot: u32, count: u32) -> u64 {
    (slot as u64) << 32 | count as u64
}

impl AtomicBuckets {
    /// A window of `window`, in `buckets` buckets (at least one).
    pub(crate) fn new(window: Duration, buckets: u32) -> Self {
        Self {
            bucket: bucket_nanos(window, buckets),
            cells: (0..buckets.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The slot of a clock tick.
    #[inline]
    pub(crate) fn slot(&self, at: Tick) -> u64 {
        at / self.bucket
    }

    /// Adds one to `slot`, with one compare-and-swap. An empty bucket, or one still
    /// holding an older slot (which has left the window), starts over; a count reported late (its slot
    /// older than the bucket's) counts in the newer slot, as a late event does in
    /// [`TimeBuckets`].
    #[inline]
    pub(crate) fn add(&self, slot: u64) {
        let cell = &self.cells[(slot % self.cells.len() as u64) as usize];
        let slot = slot as u32;
        let mut cur = cell.load(Ordering::Relaxed);
        loop {
            let (held, count) = unpack(cur);
            // An empty bucket takes the slot whatever the one it held (0 when new).
            let next = if count > 0 && (held == slot || (slot.wrapping_sub(held) as i32) < 0) {
                pack(held, count.saturating_add(1))
            } else {
                pack(slot, 1)
            };
            match cell.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The counts of the window that ends in `slot`.
    pub(crate) fn total(&self, slot: u64) -> u64 {
        let (slot, n) = (slot as u32, self.cells.len() as u64);
        self.cells
            .iter()
            .map(|c| unpack(c.load(Ordering::Relaxed)))
            .filter(|(held, _)| (slot.wrapping_sub(*held) as u64) < n)
            .map(|(_, count)| count as u64)
            .sum()
    }

    /// Takes every count out, with its full slot (recovered from the low 32 bits as
    /// the one nearest `head`).
    pub(crate) fn drain(&self, head: u64, mut f: impl FnMut(u64, u32)) {
        for cell in self.cells.iter() {
            let (held, count) = unpack(cell.swap(0, Ordering::AcqRel));
            if count == 0 {
                continue;
            }
            let behind = (head as u32).wrapping_sub(held);
            let slot = if behind < 1 << 31 {
                head.saturating_sub(behind as u64)
            } else {
                head + held.wrapping_sub(head as u32) as u64
            };
            f(slot, count);
        }
    }

    /// Forgets every count.
    pub(crate) fn clear(&self) {
        for cell in self.cells.iter() {
            cell.store(0, Ordering::Relaxed);
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

    #[test]
    fn drained_slots_are_recovered_across_the_32_bit_wrap() {
        let w = AtomicBuckets::new(Duration::from_secs(10), 10);
        let head = (1u64 << 32) + 3;
        for slot in [head - 5, head - 1, head, head + 1] {
            w.add(slot);
        }
        w.add(head);
        let mut seen = Vec::new();
        w.drain(head, |slot, count| seen.push((slot, count)));
        seen.sort_unstable();
        assert_eq!(
            seen,
            [(head - 5, 1), (head - 1, 1), (head, 2), (head + 1, 1)]
        );
        assert_eq!(w.total(head), 0, "drained");
    }

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
