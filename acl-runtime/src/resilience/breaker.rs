//! A circuit breaker per external system (or operation): closed → open → half-open,
//! in resilience4j's vocabulary.
//!
//! - **Closed**: calls pass; outcomes fill a sliding window (the last N calls, or the
//!   calls of the last T). Once the window holds `min_calls`, a failure rate or a
//!   slow-call rate at or above its threshold opens the circuit; so do
//!   `consecutive_failures` in a row.
//! - **Open**: calls fail at once with [`OpenError`], which says how long until the
//!   breaker tries again. Each reopening may wait longer (`open_multiplier`).
//! - **Half-open**: at most `half_open_calls` probes are admitted, ever, until they
//!   have all reported; a probe whose [`Permit`] is dropped without a result gives its
//!   place back. Their failure rate decides: open again, or close.
//!
//! Settings are acl-policy's [`BreakerConfig`] (one vocabulary with the derive and the
//! contract's `x-acl-breaker`), checked by its `validate`.
//!
//! Time is passed in (`now`), so the state machine is deterministic under test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::resilience::clock::{instant_of, tick_of, Tick};
use crate::resilience::window::{self, AtomicBuckets, Counts as _, TimeBuckets};
use std::time::{Duration, Instant};

pub use acl_policy::{BreakerConfig, ConfigError, Window};

/// The breaker's state, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls pass.
    Closed,
    /// Calls fail fast.
    Open,
    /// A few probes pass.
    HalfOpen,
}

impl State {
    /// Its name in metrics, spans and the console: `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// A call refused because the circuit is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit open: the breaker tries again in {retry_in:?}")]
pub struct OpenError {
    /// Time left until the breaker admits probes.
    pub retry_in: Duration,
}

/// Outcome counts of some calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    calls: u32,
    failed: u32,
    slow: u32,
}

impl window::Counts for Counts {
    fn add(&mut self, other: Counts) {
        self.calls += other.calls;
        self.failed += other.failed;
        self.slow += other.slow;
    }

    fn remove(&mut self, other: Counts) {
        self.calls -= other.calls;
        self.failed -= other.failed;
        self.slow -= other.slow;
    }
}

/// Buckets a time-based window is cut into.
const TIME_BUCKETS: u32 = 20;

/// The closed state's sliding window, kept as running totals so that recording a call
/// is O(1) in time and the memory is fixed, whatever the call rate.
#[derive(Debug)]
enum Tally {
    /// The last `ring.len()` outcomes (bit 0: failed, bit 1: slow), oldest at `next`
    /// once full.
    Count {
        ring: Vec<u8>,
        next: usize,
        len: usize,
        total: Counts,
    },
    /// The calls of the last duration.
    Time(TimeBuckets<Counts>),
}

impl Tally {
    fn new(window: Window) -> Self {
        match window {
            Window::Calls(n) => Tally::Count {
                ring: vec![0; n as usize],
                next: 0,
                len: 0,
                total: Counts::default(),
            },
            Window::Time(d) => Tally::Time(TimeBuckets::new(d, TIME_BUCKETS)),
        }
    }

    fn record(&mut self, failed: bool, slow: bool, now: Instant) -> Counts {
        let call = Counts {
            calls: 1,
            failed: failed as u32,
            slow: slow as u32,
        };
        match self {
            Tally::Count {
                ring,
                next,
                len,
                total,
            } => {
                if *len == ring.len() {
                    let old = ring[*next];
                    total.remove(Counts {
                        calls: 1,
                        failed: (old & 1) as u32,
                        slow: (old >> 1) as u32,
                    });
                } else {
                    *len += 1;
                }
                ring[*next] = failed as u8 | (slow as u8) << 1;
                *next = (*next + 1) % ring.len();
                total.add(call);
                *total
            }
            Tally::Time(buckets) => buckets.add(now, call),
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed {
        calls: Tally,
        consecutive: u32,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        in_flight: u32,
        done: u32,
        failed: u32,
        slow: u32,
    },
}

/// A state change, for alerting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Before.
    pub from: State,
    /// After.
    pub to: State,
}

type Hook = Box<dyn Fn(Transition) + Send + Sync>;

/// The breaker.
pub struct CircuitBreaker {
    config: BreakerConfig,
    /// Mirrors "the state is closed", so admitting a call while closed takes no lock.
    /// A call admitted just as the circuit opens is reported and ignored, as one
    /// admitted just before would be.
    closed: AtomicBool,
    /// Set while closed with no failure or slow call in the window and no streak, when
    /// a fast success cannot change the state, so recording it takes no lock (the
    /// happy path of a healthy system; measured in `benches/overhead`). With a count
    /// window it must also be full: another success then changes nothing (the ring stays
    /// all successes). With a time window the success is counted in `quick`. A success
    /// racing a failure may go unrecorded, as one reported a moment earlier would have
    /// been pushed out by it.
    clean: AtomicBool,
    /// Time windows: fast successes counted without the lock, per slot; folded into the
    /// window under the lock before it is read. `None` for count windows.
    quick: Option<AtomicBuckets>,
    system: Option<String>,
    inner: Mutex<(Inner, u32)>,
    hook: Option<Hook>,
    /// The last [`RECENT_TRANSITIONS`] state changes, for an operator's view.
    recent: Mutex<std::collections::VecDeque<TransitionAt>>,
}

/// How many state changes [`CircuitBreaker::recent_transitions`] keeps.
pub const RECENT_TRANSITIONS: usize = 16;

/// A state change and when it happened (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionAt {
    /// When.
    pub at_ms: i64,
    /// What changed.
    pub transition: Transition,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.config)
            .field("state", &self.state())
            .finish()
    }
}

/// Admission for one call; report its result with [`Permit::record`]. Dropped without
/// a result (the call's future was cancelled), it gives its place back.
#[must_use = "a permit must report the call's result"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    /// A closed breaker; the settings are checked.
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let calls = Tally::new(config.window);
        let quick = match config.window {
            Window::Time(d) => Some(AtomicBuckets::new(d, TIME_BUCKETS)),
            Window::Calls(_) => None,
        };
        Ok(Self {
            config,
            closed: AtomicBool::new(true),
            clean: AtomicBool::new(false),
            quick,
            system: None,
            inner: Mutex::new((
                Inner::Closed {
                    calls,
                    consecutive: 0,
                },
                0,
            )),
            hook: None,
            recent: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    /// The last state changes, oldest first (at most [`RECENT_TRANSITIONS`]).
    pub fn recent_transitions(&self) -> Vec<TransitionAt> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// Calls `hook` on every state change.
    pub fn on_transition(mut self, hook: impl Fn(Transition) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Names the breaker after its external system: its transitions are then logged
    /// (`tracing`) and counted (`metrics`: `acl_breaker_transitions_total{system,from,to}`
    /// and the gauge `acl_breaker_state{system}`, 0 closed, 1 half-open, 2 open).
    /// [`System::new`](crate::resilience::pipeline::System::new) does this.
    pub fn observed_as(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    fn observe(&self, t: Transition) {
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() >= RECENT_TRANSITIONS {
                recent.pop_front();
            }
            recent.push_back(TransitionAt {
                at_ms: crate::store::unix_ms(),
                transition: t,
            });
        }
        let Some(system) = &self.system else { return };
        let name = State::as_str;
        match t.to {
            State::Open => tracing::warn!(system = %system, from = name(t.from), "circuit opened"),
            _ => {
                tracing::info!(system = %system, from = name(t.from), to = name(t.to), "circuit state changed")
            }
        }
        metrics::counter!("acl_breaker_transitions_total", "acl.system" => system.clone(), "from" => name(t.from), "to" => name(t.to)).increment(1);
        let level = match t.to {
            State::Closed => 0.0,
            State::HalfOpen => 1.0,
            State::Open => 2.0,
        };
        metrics::gauge!("acl_breaker_state", "acl.system" => system.clone()).set(level);
    }

    /// The current state.
    pub fn state(&self) -> State {
        match &self.inner.lock().unwrap_or_else(|p| p.into_inner()).0 {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }

    fn state_of(inner: &Inner) -> State {
        match inner {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }

    fn set(&self, slot: &mut (Inner, u32), to: Inner) {
        let from = Self::state_of(&slot.0);
        slot.0 = to;
        let to = Self::state_of(&slot.0);
        self.closed.store(to == State::Closed, Ordering::Release);
        self.clean.store(false, Ordering::Relaxed);
        // Successes of the era that ends do not count in the next.
        if let Some(quick) = &self.quick {
            quick.clear();
        }
        if from != to {
            self.observe(Transition { from, to });
            if let Some(hook) = &self.hook {
                hook(Transition { from, to });
            }
        }
    }

    fn open(&self, slot: &mut (Inner, u32), now: Instant) {
        let times = slot.1;
        let factor = self.config.open_multiplier.powi(times.min(64) as i32);
        let wait = Duration::from_secs_f64(
            (self.config.open_for.as_secs_f64() * factor)
                .min(self.config.longest_open().as_secs_f64()),
        );
        slot.1 = times.saturating_add(1);
        self.set(slot, Inner::Open { until: now + wait });
    }

    /// Asks to make a call at `now`.
    pub fn try_acquire(&self, now: Instant) -> Result<Permit<'_>, OpenError> {
        self.try_acquire_with(|| now)
    }

    /// [`CircuitBreaker::try_acquire`], reading the time only when the circuit is not
    /// closed.
    #[inline]
    pub(crate) fn try_acquire_with(
        &self,
        now: impl FnOnce() -> Instant,
    ) -> Result<Permit<'_>, OpenError> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(Permit {
                breaker: self,
                probe: false,
                recorded: false,
            });
        }
        let now = now();
        let mut slot = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Inner::Open { until } = slot.0 {
            if now < until {
                return Err(OpenError {
                    retry_in: until - now,
                });
            }
            self.set(
                &mut slot,
                Inner::HalfOpen {
                    in_flight: 0,
                    done: 0,
                    failed: 0,
                    slow: 0,
                },
            );
        }
        match &mut slot.0 {
            Inner::Closed { .. } => Ok(Permit {
                breaker: self,
                probe: false,
                recorded: false,
            }),
            Inner::HalfOpen {
                in_flight, done, ..
            } => {
                if *in_flight + *done < self.config.half_open_calls {
                    *in_flight += 1;
                    Ok(Permit {
                        breaker: self,
                        probe: true,
                        recorded: false,
                    })
                } else {
                    // All probes are out: the answer is near; callers wait no time.
                    Err(OpenError {
                        retry_in: Duration::ZERO,
                    })
                }
            }
            Inner::Open { .. } => unreachable!("handled above"),
        }
    }

    fn record(&self, probe: bool, failed: bool, took: Duration, now: Instant) {
        let slow = took >= self.config.slow_call_duration;
        let mut slot = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match &mut slot.0 {
            Inner::Closed { calls, consecutive } if !probe => {
                if let (Tally::Time(window), Some(quick)) = (&mut *calls, &self.quick) {
                    // The successes counted without the lock join the window first.
                    quick.drain(window.slot_of(now), |slot, n| {
                        let calls = Counts {
                            calls: n,
                            failed: 0,
                            slow: 0,
                        };
                        window.add_at_slot(slot, calls);
                    });
                }
                let total = calls.record(failed, slow, now);
                *consecutive = if failed { *consecutive + 1 } else { 0 };
                let n = total.calls as f64;
                let by_rate = total.calls >= self.config.min_calls
                    && (total.failed as f64 / n >= self.config.failure_rate
                        || total.slow as f64 / n >= self.config.slow_call_rate);
                let by_streak = self
                    .config
                    .consecutive_failures
                    .is_some_and(|k| *consecutive >= k);
                let clean = match calls {
                    Tally::Count { ring, len, .. } => *len == ring.len(),
                    Tally::Time(_) => true,
                } && total.failed == 0
                    && total.slow == 0
                    && *consecutive == 0;
                if by_rate || by_streak {
                    self.open(&mut slot, now);
                } else {
                    self.clean.store(clean, Ordering::Relaxed);
                }
            }
            Inner::HalfOpen {
                in_flight,
                done,
                failed: f,
                slow: s,
            } if probe => {
                *in_flight = in_flight.saturating_sub(1);
                *done += 1;
                *f += failed as u32;
                *s += slow as u32;
                if *done >= self.config.half_open_calls {
                    let n = *done as f64;
                    if *f as f64 / n >= self.config.failure_rate
                        || *s as f64 / n >= self.config.slow_call_rate
                    {
                        self.open(&mut slot, now);
                    } else {
                        slot.1 = 0;
                        self.set(
                            &mut slot,
                            Inner::Closed {
                                calls: Tally::new(self.config.window),
                                consecutive: 0,
                            },
                        );
                    }
                }
            }
            // A result from another era (the state changed while the call ran): ignored.
            _ => {}
        }
    }

    fn release(&self) {
        let mut slot = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Inner::HalfOpen { in_flight, .. } = &mut slot.0 {
            *in_flight = in_flight.saturating_sub(1);
        }
    }
}

impl Permit<'_> {
    /// Reports the call: whether it failed (in a way that counts: transient failures,
    /// not the caller's 4xx) and how long it took.
    pub fn record(self, failed: bool, took: Duration, now: Instant) {
        self.record_at(failed, took, tick_of(now))
    }

    /// [`Permit::record`] at a tick of the pipeline's clock.
    #[inline]
    pub(crate) fn record_at(mut self, failed: bool, took: Duration, now: Tick) {
        self.recorded = true;
        let b = self.breaker;
        if !self.probe
            && !failed
            && took < b.config.slow_call_duration
            && b.clean.load(Ordering::Relaxed)
        {
            if let Some(quick) = &b.quick {
                quick.add(quick.slot(now));
            }
            return;
        }
        b.record(self.probe, failed, took, instant_of(now));
    }
}

impl std::fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("probe", &self.probe)
            .finish()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.probe {
            self.breaker.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    const S: Duration = Duration::from_secs(1);
    const FAST: Duration = Duration::from_millis(10);

    fn config() -> BreakerConfig {
        BreakerConfig {
            window: Window::Calls(4),
            min_calls: 4,
            failure_rate: 0.5,
            open_for: 10 * S,
            half_open_calls: 2,
            ..BreakerConfig::default()
        }
    }

    #[test]
    fn walks_closed_open_half_open_open_half_open_closed() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let b = CircuitBreaker::new(config())
            .unwrap()
            .on_transition(move |t| log.lock().unwrap().push(t.to));
        let t0 = Instant::now();
        // Three calls, two failed: below `min_calls`, the rate does not count yet.
        for failed in [true, false, true] {
            b.try_acquire(t0).unwrap().record(failed, FAST, t0);
        }
        assert_eq!(b.state(), State::Closed);
        // The fourth makes 2 failed of 4: 50% opens it.
        b.try_acquire(t0).unwrap().record(false, FAST, t0);
        assert_eq!(b.state(), State::Open);
        // Open: refused at once, saying how long until it tries again.
        assert_eq!(b.try_acquire(t0 + 4 * S).unwrap_err().retry_in, 6 * S);
        // After `open_for`: half-open, exactly two probes.
        let t1 = t0 + 10 * S;
        let p1 = b.try_acquire(t1).unwrap();
        assert_eq!(b.state(), State::HalfOpen);
        let p2 = b.try_acquire(t1).unwrap();
        assert!(b.try_acquire(t1).is_err(), "a third probe is refused");
        p1.record(true, FAST, t1);
        p2.record(false, FAST, t1);
        assert_eq!(b.state(), State::Open, "1 of 2 probes failed: 50%");
        assert_eq!(b.try_acquire(t1 + S).unwrap_err().retry_in, 9 * S);
        // Half-open again; both probes succeed: closed.
        let t2 = t1 + 10 * S;
        let (p1, p2) = (b.try_acquire(t2).unwrap(), b.try_acquire(t2).unwrap());
        p1.record(false, FAST, t2);
        p2.record(false, FAST, t2);
        assert_eq!(b.state(), State::Closed);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                State::Open,
                State::HalfOpen,
                State::Open,
                State::HalfOpen,
                State::Closed
            ]
        );
        // Closed with a fresh window: one failure does not reopen it.
        b.try_acquire(t2).unwrap().record(true, FAST, t2);
        assert_eq!(b.state(), State::Closed);
    }

    fn open_breaker(permits: u32) -> (CircuitBreaker, Instant) {
        let b = CircuitBreaker::new(BreakerConfig {
            half_open_calls: permits,
            consecutive_failures: Some(1),
            ..config()
        })
        .unwrap();
        let t0 = Instant::now();
        b.try_acquire(t0).unwrap().record(true, FAST, t0);
        assert_eq!(b.state(), State::Open);
        (b, t0 + 10 * S)
    }

    #[test]
    fn a_dropped_probe_gives_its_place_back() {
        let (b, t) = open_breaker(1);
        let probe = b.try_acquire(t).unwrap();
        assert!(b.try_acquire(t).is_err());
        drop(probe); // the caller's future was cancelled
        let probe = b.try_acquire(t).expect("the place was given back");
        probe.record(false, FAST, t);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn half_open_admits_no_more_than_its_permits_under_a_thousand_callers() {
        let (b, t) = open_breaker(5);
        let b = Arc::new(b);
        let start = Arc::new(Barrier::new(1000));
        let hold = Arc::new(Barrier::new(1000));
        let handles: Vec<_> = (0..1000)
            .map(|_| {
                let (b, start, hold) = (b.clone(), start.clone(), hold.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let permit = b.try_acquire(t).ok();
                    let admitted = permit.is_some();
                    hold.wait(); // every caller has tried before any permit is released
                    drop(permit);
                    admitted
                })
            })
            .collect();
        let admitted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|a| *a)
            .count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn slow_calls_and_failure_streaks_open_it() {
        let t = Instant::now();
        let slow = CircuitBreaker::new(BreakerConfig {
            slow_call_rate: 0.5,
            slow_call_duration: 2 * S,
            ..config()
        })
        .unwrap();
        for took in [3 * S, FAST, 3 * S, FAST] {
            slow.try_acquire(t).unwrap().record(false, took, t);
        }
        assert_eq!(slow.state(), State::Open, "half the calls were slow");

        let streak = CircuitBreaker::new(BreakerConfig {
            consecutive_failures: Some(3),
            min_calls: 100,
            ..config()
        })
        .unwrap();
        for failed in [true, true, false, true, true] {
            streak.try_acquire(t).unwrap().record(failed, FAST, t);
        }
        assert_eq!(streak.state(), State::Closed, "the streak was broken");
        streak.try_acquire(t).unwrap().record(true, FAST, t);
        assert_eq!(streak.state(), State::Open);
    }

    #[test]
    fn reopening_waits_longer_up_to_the_cap() {
        let b = CircuitBreaker::new(BreakerConfig {
            consecutive_failures: Some(1),
            half_open_calls: 1,
            open_multiplier: 2.0,
            max_open_for: 25 * S,
            ..config()
        })
        .unwrap();
        let mut t = Instant::now();
        b.try_acquire(t).unwrap().record(true, FAST, t);
        let mut waits = Vec::new();
        for _ in 0..3 {
            let wait = b.try_acquire(t).unwrap_err().retry_in;
            waits.push(wait);
            t += wait;
            b.try_acquire(t).unwrap().record(true, FAST, t);
        }
        assert_eq!(waits, [10 * S, 20 * S, 25 * S]);
    }

    #[test]
    fn a_time_window_forgets_old_calls() {
        let b = CircuitBreaker::new(BreakerConfig {
            window: Window::Time(10 * S),
            min_calls: 2,
            ..config()
        })
        .unwrap();
        let t0 = Instant::now();
        b.try_acquire(t0).unwrap().record(true, FAST, t0);
        // Eleven seconds later the old failure is out of the window.
        let t1 = t0 + 11 * S;
        b.try_acquire(t1).unwrap().record(false, FAST, t1);
        b.try_acquire(t1).unwrap().record(false, FAST, t1);
        assert_eq!(b.state(), State::Closed);
        b.try_acquire(t1).unwrap().record(true, FAST, t1);
        b.try_acquire(t1).unwrap().record(true, FAST, t1);
        assert_eq!(b.state(), State::Open, "2 of 4 failed within the window");
    }

    #[test]
    fn time_window_successes_from_many_threads_all_count() {
        let b = CircuitBreaker::new(BreakerConfig {
            window: Window::Time(60 * S),
            min_calls: 1,
            failure_rate: 0.5,
            ..config()
        })
        .unwrap();
        let t0 = Instant::now();
        // One success through the lock makes the window clean; the rest go lock-free.
        b.try_acquire(t0).unwrap().record(false, FAST, t0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1_000 {
                        b.try_acquire(t0).unwrap().record(false, FAST, t0);
                    }
                });
            }
        });
        // 4,001 successes: 4,000 failures keep the rate just under a half.
        for _ in 0..4_000 {
            b.try_acquire(t0).unwrap().record(true, FAST, t0);
        }
        assert_eq!(b.state(), State::Closed, "no success was lost");
        b.try_acquire(t0).unwrap().record(true, FAST, t0);
        assert_eq!(b.state(), State::Open, "4,001 of 8,002");
    }

    #[test]
    fn settings_are_checked() {
        let field = |c: BreakerConfig| CircuitBreaker::new(c).unwrap_err().path;
        assert_eq!(
            field(BreakerConfig {
                failure_rate: 1.5,
                ..config()
            }),
            "breaker.failure_rate"
        );
        assert_eq!(
            field(BreakerConfig {
                window: Window::Calls(0),
                ..config()
            }),
            "breaker.window"
        );
        assert_eq!(
            field(BreakerConfig {
                open_for: Duration::ZERO,
                ..config()
            }),
            "breaker.open_for"
        );
        assert_eq!(
            field(BreakerConfig {
                half_open_calls: 0,
                ..config()
            }),
            "breaker.half_open_calls"
        );
        assert_eq!(
            field(BreakerConfig {
                open_multiplier: 0.5,
                ..config()
            }),
            "breaker.open_multiplier"
        );
    }

    proptest::proptest! {
        /// Closed with a count window, the breaker opens exactly when a recount of the
        /// last `n` outcomes (and the failure streak) says so: the lock-free path for
        /// successes into a clean window loses nothing.
        #[test]
        fn a_count_window_opens_exactly_when_a_recount_says_so(
            n in 1u32..12,
            minimum in 1u32..12,
            streak in proptest::option::of(1u32..6),
            outcomes in proptest::collection::vec((0u8..10, proptest::bool::ANY), 1..300),
        ) {
            let b = CircuitBreaker::new(BreakerConfig {
                window: Window::Calls(n),
                min_calls: minimum,
                failure_rate: 0.5,
                slow_call_rate: 0.5,
                slow_call_duration: 2 * S,
                consecutive_failures: streak,
                ..BreakerConfig::default()
            })
            .unwrap();
            let t = Instant::now();
            let mut seen: Vec<(bool, bool)> = Vec::new();
            let mut run = 0u32;
            for (roll, slow) in outcomes {
                // Mostly fast successes, so the window is often clean.
                let failed = roll == 0;
                let slow = slow && roll == 1;
                b.try_acquire(t).unwrap().record(failed, if slow { 3 * S } else { FAST }, t);
                seen.push((failed, slow));
                run = if failed { run + 1 } else { 0 };
                let last = &seen[seen.len().saturating_sub(n as usize)..];
                let k = last.len() as f64;
                let open = (last.len() as u32 >= minimum
                    && (last.iter().filter(|o| o.0).count() as f64 / k >= 0.5
                        || last.iter().filter(|o| o.1).count() as f64 / k >= 0.5))
                    || streak.is_some_and(|s| run >= s);
                let expected = if open { State::Open } else { State::Closed };
                proptest::prop_assert_eq!(b.state(), expected);
                if open {
                    break;
                }
            }
        }

        /// Closed with a time window, the breaker opens exactly when a recount of the
        /// calls in the window's buckets says so: successes counted without the lock
        /// are all there when a failure is weighed.
        #[test]
        fn a_time_window_opens_exactly_when_a_recount_says_so(
            minimum in 1u32..10,
            events in proptest::collection::vec((0u64..1_500, 0u8..6, proptest::bool::ANY), 1..300),
        ) {
            let window = Duration::from_secs(10);
            let b = CircuitBreaker::new(BreakerConfig {
                window: Window::Time(window),
                min_calls: minimum,
                failure_rate: 0.5,
                slow_call_rate: 0.5,
                slow_call_duration: 2 * S,
                ..BreakerConfig::default()
            })
            .unwrap();
            let bucket = (window / TIME_BUCKETS).as_nanos() as u64;
            let slot = |t: Instant| tick_of(t) / bucket;
            let mut t = Instant::now();
            let mut seen: Vec<(Instant, bool, bool)> = Vec::new();
            for (gap_ms, roll, slow) in events {
                t += Duration::from_millis(gap_ms);
                let failed = roll == 0;
                let slow = slow && roll == 1;
                b.try_acquire(t).unwrap().record(failed, if slow { 3 * S } else { FAST }, t);
                seen.push((t, failed, slow));
                let now = slot(t);
                let last: Vec<_> = seen
                    .iter()
                    .filter(|e| slot(e.0) + TIME_BUCKETS as u64 > now)
                    .collect();
                let k = last.len() as f64;
                let open = last.len() as u32 >= minimum
                    && (last.iter().filter(|e| e.1).count() as f64 / k >= 0.5
                        || last.iter().filter(|e| e.2).count() as f64 / k >= 0.5);
                let expected = if open { State::Open } else { State::Closed };
                proptest::prop_assert_eq!(b.state(), expected);
                if open {
                    break;
                }
            }
        }

        /// The count window's running totals equal a recount of the last `n` outcomes.
        #[test]
        fn count_window_totals_equal_a_recount(
            n in 1u32..20,
            outcomes in proptest::collection::vec((proptest::bool::ANY, proptest::bool::ANY), 1..200),
        ) {
            let mut tally = Tally::new(Window::Calls(n));
            let t0 = Instant::now();
            for (i, (failed, slow)) in outcomes.iter().enumerate() {
                let total = tally.record(*failed, *slow, t0);
                let last = &outcomes[(i + 1).saturating_sub(n as usize)..=i];
                proptest::prop_assert_eq!(total.calls as usize, last.len());
                proptest::prop_assert_eq!(total.failed as usize, last.iter().filter(|o| o.0).count());
                proptest::prop_assert_eq!(total.slow as usize, last.iter().filter(|o| o.1).count());
            }
        }
    }
}
