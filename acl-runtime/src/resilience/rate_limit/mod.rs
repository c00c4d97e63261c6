//! Outbound rate limits: token bucket (GCRA), leaky bucket, fixed window and sliding
//! window; keyed (per endpoint, client or system) with idle keys evicted.
//!
//! Every algorithm answers one question per call, "may this call go now, and if not,
//! when?", so the caller can wait or fail fast. Time is passed in, so decisions are
//! deterministic under test. The in-memory store is the default; a shared store
//! (Redis) implements the same [`Store`] trait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::resilience::clock::{tick_of, Tick};

/// How calls are counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algorithm {
    /// Token bucket as GCRA: `rate` calls per second on average, up to `burst` at once.
    TokenBucket {
        /// Calls per second.
        rate: f64,
        /// Calls allowed back to back.
        burst: u32,
    },
    /// Leaky bucket as a meter: a bucket of `capacity` that drains at `rate` per second.
    LeakyBucket {
        /// Drain per second.
        rate: f64,
        /// Bucket size.
        capacity: u32,
    },
    /// At most `limit` calls per aligned window.
    FixedWindow {
        /// Calls per window.
        limit: u32,
        /// Window length.
        window: Duration,
    },
    /// At most `limit` calls in any window, estimated from the previous and current
    /// fixed windows (weighted by overlap).
    SlidingWindow {
        /// Calls per window.
        limit: u32,
        /// Window length.
        window: Duration,
    },
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate limit: {0}")]
pub struct InvalidRateLimit(pub &'static str);

impl Algorithm {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), InvalidRateLimit> {
        match *self {
            Algorithm::TokenBucket { rate, burst }
            | Algorithm::LeakyBucket {
                rate,
                capacity: burst,
            } => {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(InvalidRateLimit("the rate must be above zero"));
                }
                if burst == 0 {
                    return Err(InvalidRateLimit("the burst (capacity) must be at least 1"));
                }
            }
            Algorithm::FixedWindow { limit, window }
            | Algorithm::SlidingWindow { limit, window } => {
                if limit == 0 {
                    return Err(InvalidRateLimit("the limit must be at least 1"));
                }
                if window.is_zero() {
                    return Err(InvalidRateLimit("the window must be longer than zero"));
                }
            }
        }
        Ok(())
    }
}

/// The answer for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go.
    Allow,
    /// Not now; try again after this long.
    Deny {
        /// When a call would be allowed.
        retry_after: Duration,
    },
}

/// Per-key state of every algorithm, as numbers (so a shared store can keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeyState {
    /// GCRA: theoretical arrival time. Leaky bucket: level. Windows: current count.
    pub a: f64,
    /// Leaky bucket: last update. Windows: index of the current window.
    pub b: f64,
    /// Sliding window: count of the previous window.
    pub c: f64,
}

/// One decision on `state` at `now` (seconds since the store's epoch). Pure, so every
/// store gives the same answers for the same arrivals.
pub fn decide(alg: &Algorithm, state: &mut KeyState, now: f64) -> Decision {
    match *alg {
        Algorithm::TokenBucket { rate, burst } => {
            match Gcra::new(rate, burst).admit(state.a, now) {
                Ok(tat) => {
                    state.a = tat;
                    Decision::Allow
                }
                Err(wait) => deny(wait),
            }
        }
        Algorithm::LeakyBucket { rate, capacity } => {
            let level = (state.a - (now - state.b).max(0.0) * rate).max(0.0);
            state.b = now;
            if level + 1.0 > capacity as f64 + 1e-9 {
                state.a = level;
                deny((level + 1.0 - capacity as f64) / rate)
            } else {
                state.a = level + 1.0;
                Decision::Allow
            }
        }
        Algorithm::FixedWindow { limit, window } => {
            let w = window.as_secs_f64();
            let index = (now / w).floor();
            if index != state.b {
                state.b = index;
                state.a = 0.0;
            }
            if state.a < limit as f64 {
                state.a += 1.0;
                Decision::Allow
            } else {
                deny((index + 1.0) * w - now)
            }
        }
        Algorithm::SlidingWindow { limit, window } => {
            let w = window.as_secs_f64();
            let index = (now / w).floor();
            if index != state.b {
                state.c = if index == state.b + 1.0 { state.a } else { 0.0 };
                state.a = 0.0;
                state.b = index;
            }
            let into = (now - index * w) / w;
            let estimate = state.c * (1.0 - into) + state.a;
            if estimate + 1.0 <= limit as f64 + 1e-9 {
                state.a += 1.0;
                Decision::Allow
            } else {
                // The estimate falls as the previous window slides out.
                let wait = if state.c > 0.0 {
                    ((estimate + 1.0 - limit as f64) / state.c * w).min((1.0 - into) * w)
                } else {
                    (1.0 - into) * w
                };
                deny(wait)
            }
        }
    }
}

/// "Not now; in `secs` seconds."
fn deny(secs: f64) -> Decision {
    Decision::Deny {
        retry_after: Duration::from_secs_f64(secs.max(0.0)),
    }
}

/// Seconds since a store's epoch (in clock ticks) at a clock tick.
#[inline]
fn secs_since(epoch: i64, tick: Tick) -> f64 {
    ((tick as i64).saturating_sub(epoch).max(0) as f64) * 1e-9
}

/// The token bucket's arithmetic, its constants worked out once (a bound key keeps
/// them; a division per decision was a fifth of one).
#[derive(Debug, Clone, Copy)]
struct Gcra {
    /// Seconds between calls at the rate.
    interval: f64,
    /// How far ahead of now the theoretical arrival time may run: the burst.
    limit: f64,
}

impl Gcra {
    fn of(alg: &Algorithm) -> Option<Self> {
        match *alg {
            Algorithm::TokenBucket { rate, burst } => Some(Self::new(rate, burst)),
            _ => None,
        }
    }

    fn new(rate: f64, burst: u32) -> Self {
        let interval = 1.0 / rate;
        Self {
            interval,
            limit: interval * burst as f64,
        }
    }

    /// The new theoretical arrival time if a call at `now` goes, or how long it waits.
    #[inline]
    fn admit(self, tat: f64, now: f64) -> Result<f64, f64> {
        let new_tat = tat.max(now) + self.interval;
        // Float sums drift; a nanosecond of slack keeps exact schedules exact.
        if new_tat - now > self.limit + 1e-9 {
            Err(new_tat - now - self.limit)
        } else {
            Ok(new_tat)
        }
    }
}

/// Where per-key state lives.
pub trait Store: Send + Sync {
    /// Decides for `key` at `now`.
    fn decide(&self, key: &str, alg: &Algorithm, now: Instant) -> Decision;
}

/// The in-memory store: one map behind a lock, idle keys evicted as it goes. A key can
/// also be bound once ([`RateLimiter::slot`]): its decisions then skip the map (no
/// lock, no hashing), and a token bucket decides with one compare-and-swap, as
/// governor does. The pipeline binds each operation's key when it is built.
#[derive(Debug)]
pub struct MemoryStore {
    /// The store's epoch, in clock ticks (signed: it may precede the clock's epoch;
    /// `i64`, as an `i128` to `f64` conversion is a software routine).
    epoch: i64,
    idle_after: Duration,
    keys: Mutex<(Keys, u64)>,
}

/// Per key: its state and when it was last used.
#[derive(Debug)]
struct Entry {
    /// Token bucket: the theoretical arrival time (`f64` bits), updated by CAS.
    tat: AtomicU64,
    /// Other algorithms: their state, under a lock.
    state: Mutex<KeyState>,
    /// Seconds since the store's epoch of the last decision (`f64` bits).
    last: AtomicU64,
}

impl Entry {
    fn new(t: f64) -> Self {
        Self {
            tat: AtomicU64::new(0f64.to_bits()),
            state: Mutex::new(KeyState {
                b: t,
                ..KeyState::default()
            }),
            last: AtomicU64::new(t.to_bits()),
        }
    }

    /// One decision; the same arithmetic ([`decide`]) whichever way the state is kept.
    /// `gcra` is the token bucket's, when `alg` is one.
    #[inline]
    fn decide(&self, alg: &Algorithm, gcra: Option<Gcra>, t: f64) -> Decision {
        self.last.store(t.to_bits(), Ordering::Relaxed);
        if let Some(gcra) = gcra {
            let mut cur = self.tat.load(Ordering::Relaxed);
            loop {
                let tat = match gcra.admit(f64::from_bits(cur), t) {
                    Ok(tat) => tat,
                    Err(wait) => return deny(wait),
                };
                match self.tat.compare_exchange_weak(
                    cur,
                    tat.to_bits(),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Decision::Allow,
                    Err(seen) => cur = seen,
                }
            }
        }
        decide(
            alg,
            &mut self.state.lock().unwrap_or_else(|p| p.into_inner()),
            t,
        )
    }
}

/// foldhash rather than SipHash: hashing the key was a third of a decision.
type Keys = HashMap<String, Arc<Entry>, foldhash::fast::RandomState>;

impl MemoryStore {
    /// Keys unused for `idle_after` are forgotten (their state is back to "full"),
    /// unless a [`KeySlot`] holds them.
    pub fn new(epoch: Instant, idle_after: Duration) -> Self {
        let base = crate::resilience::clock::epoch();
        let epoch = if epoch >= base {
            (epoch - base).as_nanos() as i64
        } else {
            -((base - epoch).as_nanos() as i64)
        };
        Self {
            epoch,
            idle_after,
            keys: Mutex::new((HashMap::default(), 0)),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on the entry of `key` (made when first seen), under the map's lock;
    /// idle entries are swept every 1,024 lookups.
    fn with_entry<R>(&self, key: &str, t: f64, f: impl FnOnce(&Arc<Entry>) -> R) -> R {
        let mut guard = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let (map, lookups) = &mut *guard;
        *lookups += 1;
        if *lookups % 1024 == 0 {
            let idle = self.idle_after.as_secs_f64();
            map.retain(|_, e| {
                Arc::strong_count(e) > 1
                    || t - f64::from_bits(e.last.load(Ordering::Relaxed)) < idle
            });
        }
        // Look up before inserting: the key is copied only the first time it is seen.
        if let Some(entry) = map.get(key) {
            return f(entry);
        }
        f(map
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(Entry::new(t))))
    }
}

impl Store for MemoryStore {
    fn decide(&self, key: &str, alg: &Algorithm, now: Instant) -> Decision {
        let t = secs_since(self.epoch, tick_of(now));
        self.with_entry(key, t, |e| e.decide(alg, Gcra::of(alg), t))
    }
}

/// One key of an in-memory limiter, bound once: deciding takes no map lookup.
#[derive(Debug, Clone)]
pub struct KeySlot {
    entry: Arc<Entry>,
    algorithm: Algorithm,
    gcra: Option<Gcra>,
    epoch: i64,
}

impl KeySlot {
    /// May a call go at `now`?
    pub fn check(&self, now: Instant) -> Decision {
        self.check_at(tick_of(now))
    }

    /// [`KeySlot::check`] at a tick of the pipeline's clock.
    #[inline]
    pub(crate) fn check_at(&self, now: Tick) -> Decision {
        let t = secs_since(self.epoch, now);
        self.entry.decide(&self.algorithm, self.gcra, t)
    }
}

/// A rate limit on outbound calls, keyed.
pub struct RateLimiter<S: Store = MemoryStore> {
    algorithm: Algorithm,
    store: S,
}

impl<S: Store> std::fmt::Debug for RateLimiter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl RateLimiter<MemoryStore> {
    /// An in-memory limiter; idle keys are dropped after ten minutes.
    pub fn in_memory(algorithm: Algorithm) -> Result<Self, InvalidRateLimit> {
        Self::with_store(
            algorithm,
            MemoryStore::new(Instant::now(), Duration::from_secs(600)),
        )
    }
}

impl<S: Store> RateLimiter<S> {
    /// A limiter over any store.
    pub fn with_store(algorithm: Algorithm, store: S) -> Result<Self, InvalidRateLimit> {
        algorithm.validate()?;
        Ok(Self { algorithm, store })
    }

    /// May a call for `key` go at `now`?
    pub fn check(&self, key: &str, now: Instant) -> Decision {
        self.store.decide(key, &self.algorithm, now)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl RateLimiter<MemoryStore> {
    /// Binds `key` once, for callers that always decide for the same key: the same
    /// state as [`RateLimiter::check`] with that key, without the lookup.
    pub fn slot(&self, key: &str) -> KeySlot {
        let t = secs_since(self.store.epoch, tick_of(Instant::now()));
        KeySlot {
            entry: self.store.with_entry(key, t, Arc::clone),
            algorithm: self.algorithm,
            gcra: Gcra::of(&self.algorithm),
            epoch: self.store.epoch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(alg: Algorithm, arrivals_ms: &[u64]) -> Vec<bool> {
        let mut state = KeyState::default();
        arrivals_ms
            .iter()
            .map(|ms| decide(&alg, &mut state, *ms as f64 / 1000.0) == Decision::Allow)
            .collect()
    }

    #[test]
    fn token_bucket_allows_the_burst_then_the_rate() {
        let alg = Algorithm::TokenBucket {
            rate: 10.0,
            burst: 3,
        };
        // Five at once: three pass. Then one every 100 ms passes.
        assert_eq!(run(alg, &[0, 0, 0, 0, 0]), [true, true, true, false, false]);
        let mut state = KeyState::default();
        for _ in 0..3 {
            decide(&alg, &mut state, 0.0);
        }
        match decide(&alg, &mut state, 0.0) {
            Decision::Deny { retry_after } => {
                assert!((retry_after.as_secs_f64() - 0.1).abs() < 1e-6)
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(decide(&alg, &mut state, 0.1), Decision::Allow);
    }

    #[test]
    fn windows_and_leaky_bucket() {
        let fixed = Algorithm::FixedWindow {
            limit: 2,
            window: Duration::from_secs(1),
        };
        assert_eq!(
            run(fixed, &[0, 100, 200, 999, 1000, 1001, 1002]),
            [true, true, false, false, true, true, false]
        );
        let sliding = Algorithm::SlidingWindow {
            limit: 2,
            window: Duration::from_secs(1),
        };
        // At 1.5 s, half of the previous window's two calls still count: one more fits.
        assert_eq!(
            run(sliding, &[0, 100, 1500, 1500]),
            [true, true, true, false]
        );
        let leaky = Algorithm::LeakyBucket {
            rate: 1.0,
            capacity: 2,
        };
        assert_eq!(
            run(leaky, &[0, 0, 0, 1000, 1000]),
            [true, true, false, true, false]
        );
    }

    #[test]
    fn keys_are_separate_and_idle_keys_are_evicted() {
        let t0 = Instant::now();
        let limiter = RateLimiter::with_store(
            Algorithm::TokenBucket {
                rate: 1.0,
                burst: 1,
            },
            MemoryStore::new(t0, Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(limiter.check("a", t0), Decision::Allow);
        assert_eq!(limiter.check("b", t0), Decision::Allow);
        assert!(matches!(limiter.check("a", t0), Decision::Deny { .. }));
        for i in 0..2048 {
            limiter.check("c", t0 + Duration::from_secs(10) + Duration::from_millis(i));
        }
        assert_eq!(limiter.store().len(), 1, "a and b were idle and are gone");
    }

    #[test]
    fn a_bound_slot_shares_its_key_with_keyed_checks() {
        let t0 = Instant::now();
        let limiter = RateLimiter::with_store(
            Algorithm::TokenBucket {
                rate: 1.0,
                burst: 2,
            },
            MemoryStore::new(t0, Duration::from_secs(5)),
        )
        .unwrap();
        let slot = limiter.slot("op");
        assert_eq!(slot.check(t0), Decision::Allow);
        assert_eq!(limiter.check("op", t0), Decision::Allow);
        assert_eq!(
            slot.check(t0),
            Decision::Deny {
                retry_after: Duration::from_secs(1)
            },
            "the burst of 2 is spent, whichever way it was asked"
        );
        // A held key is not evicted while idle: its state is the slot's.
        for i in 0..2048 {
            limiter.check(
                "other",
                t0 + Duration::from_secs(10) + Duration::from_millis(i),
            );
        }
        assert_eq!(limiter.store().len(), 2);
        drop(slot);
        for i in 0..2048 {
            limiter.check(
                "other",
                t0 + Duration::from_secs(20) + Duration::from_millis(i),
            );
        }
        assert_eq!(limiter.store().len(), 1, "released, then idle, then gone");
    }

    #[test]
    fn a_bound_token_bucket_never_overadmits_across_threads() {
        let t0 = Instant::now();
        let limiter = RateLimiter::with_store(
            Algorithm::TokenBucket {
                rate: 1.0,
                burst: 500,
            },
            MemoryStore::new(t0, Duration::from_secs(5)),
        )
        .unwrap();
        let slot = limiter.slot("op");
        let admitted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1_000 {
                        if slot.check(t0) == Decision::Allow {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 500);
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(RateLimiter::in_memory(Algorithm::TokenBucket {
            rate: 0.0,
            burst: 1
        })
        .is_err());
        assert!(RateLimiter::in_memory(Algorithm::FixedWindow {
            limit: 0,
            window: Duration::from_secs(1)
        })
        .is_err());
    }

    proptest! {
        /// Over any arrivals, the token bucket admits at most `rate * span + burst`.
        #[test]
        fn token_bucket_never_exceeds_rate_plus_burst(
            rate in 1u32..50,
            burst in 1u32..20,
            mut arrivals in proptest::collection::vec(0u64..5_000, 1..300),
        ) {
            arrivals.sort_unstable();
            let admitted = run(Algorithm::TokenBucket { rate: rate as f64, burst }, &arrivals);
            // In every interval [a, b], admitted calls ≤ rate·(b − a) + burst.
            for i in 0..arrivals.len() {
                let mut count = 0;
                for j in i..arrivals.len() {
                    count += admitted[j] as u32;
                    let span = (arrivals[j] - arrivals[i]) as f64 / 1000.0;
                    prop_assert!(count as f64 <= rate as f64 * span + burst as f64 + 1e-6);
                }
            }
        }

        /// A fixed window never admits more than its limit within one window.
        #[test]
        fn fixed_window_never_exceeds_its_limit(
            limit in 1u32..20,
            mut arrivals in proptest::collection::vec(0u64..5_000, 1..300),
        ) {
            arrivals.sort_unstable();
            let admitted = run(Algorithm::FixedWindow { limit, window: Duration::from_secs(1) }, &arrivals);
            let mut per_window = std::collections::HashMap::new();
            for (t, ok) in arrivals.iter().zip(&admitted) {
                if *ok {
                    *per_window.entry(t / 1000).or_insert(0u32) += 1;
                }
            }
            prop_assert!(per_window.values().all(|n| *n <= limit));
        }

        /// The sliding window never admits more than its limit in any window-long span.
        #[test]
        fn sliding_window_never_exceeds_twice_its_limit_in_any_window(
            limit in 1u32..20,
            mut arrivals in proptest::collection::vec(0u64..5_000, 1..300),
        ) {
            arrivals.sort_unstable();
            let admitted = run(Algorithm::SlidingWindow { limit, window: Duration::from_secs(1) }, &arrivals);
            for i in 0..arrivals.len() {
                let n = (i..arrivals.len()).filter(|j| admitted[*j] && arrivals[*j] < arrivals[i] + 1000).count();
                prop_assert!(n as u32 <= 2 * limit);
            }
        }
    }
}

#[cfg(feature = "redis")]
pub mod redis;
