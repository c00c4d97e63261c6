//! Where the pipeline reads the time: tokio's clock (the default: `tokio::time::pause`
//! drives breakers, budgets and latencies in tests), or the CPU's time-stamp counter
//! through quanta (about 12 ns a read against about 30 ns for the monotonic clock on the
//! machines we measure, in `benches/overhead`). Timeouts are tokio timers either way.
//!
//! On the call path time is a [`Tick`]: nanoseconds since one process-wide epoch, a
//! `u64`. Subtracting two `Instant`s normalises a seconds/nanoseconds pair and costs
//! several nanoseconds each time; the pipeline did that five times a call before it
//! counted in ticks (measured in `benches/overhead`). Ticks turn into `Instant`s only
//! where a timer or a public API needs one.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The pipeline's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// `tokio::time::Instant::now()`: honours `tokio::time::pause`.
    #[default]
    Tokio,
    /// The time-stamp counter (quanta), calibrated against the monotonic clock. Faster,
    /// but paused tokio time does not move it: use it in production, not in paused tests.
    Tsc,
}

/// Nanoseconds since the process's clock epoch ([`epoch`]).
pub type Tick = u64;

/// The instant ticks count from: a day (or as much as the monotonic clock allows)
/// before the first use, so that instants from a paused tokio clock, which start at
/// the runtime's creation, are never before it.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let now = Instant::now();
        [86_400, 3_600, 60, 1]
            .into_iter()
            .find_map(|s| now.checked_sub(Duration::from_secs(s)))
            .unwrap_or(now)
    })
}

/// `at` as a tick (an instant before the epoch is the epoch).
#[inline]
pub fn tick_of(at: Instant) -> Tick {
    at.saturating_duration_since(epoch()).as_nanos() as u64
}

/// The instant of a tick.
#[inline]
pub fn instant_of(tick: Tick) -> Instant {
    epoch() + Duration::from_nanos(tick)
}

struct Tsc {
    clock: quanta::Clock,
    base_raw: u64,
    /// The tick at `base_raw`.
    base: Tick,
}

#[inline]
fn tsc() -> &'static Tsc {
    static TSC: OnceLock<Tsc> = OnceLock::new();
    TSC.get_or_init(|| {
        let clock = quanta::Clock::new();
        let base_raw = clock.raw();
        Tsc {
            clock,
            base_raw,
            base: tick_of(Instant::now()),
        }
    })
}

impl Clock {
    /// Now, as a tick.
    #[inline]
    pub fn tick(self) -> Tick {
        match self {
            Clock::Tokio => tick_of(tokio::time::Instant::now().into_std()),
            Clock::Tsc => {
                let t = tsc();
                t.base + t.clock.delta_as_nanos(t.base_raw, t.clock.raw())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tsc_clock_follows_the_monotonic_clock() {
        let (a, b) = (Clock::Tsc.tick(), tick_of(Instant::now()));
        assert!(a.abs_diff(b) < 50_000_000, "{a} vs {b}");
        std::thread::sleep(Duration::from_millis(20));
        let later = Clock::Tsc.tick();
        assert!(later - a >= 19_000_000, "{}", later - a);
        assert!(later - a < 5_000_000_000);
    }

    #[test]
    fn ticks_and_instants_convert_both_ways() {
        let now = Instant::now();
        let back = instant_of(tick_of(now));
        assert_eq!(back, now);
        if let Some(before) = epoch().checked_sub(Duration::from_nanos(1)) {
            assert_eq!(tick_of(before), 0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn paused_tokio_time_moves_ticks_exactly() {
        let t0 = Clock::Tokio.tick();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(Clock::Tokio.tick() - t0, 1_500_000_000);
    }
}
