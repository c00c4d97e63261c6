//! Where the pipeline reads the time: tokio's clock (the default: `tokio::time::pause`
//! drives breakers, budgets and latencies in tests), or the CPU's time-stamp counter
//! through quanta (about 12 ns a read against about 30 ns for the monotonic clock on the
//! machines we measure, in `benches/overhead`). Timeouts are tokio timers either way.

use std::sync::OnceLock;
use std::time::Duration;

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

struct Tsc {
    clock: quanta::Clock,
    base_raw: u64,
    base: std::time::Instant,
}

fn tsc() -> &'static Tsc {
    static TSC: OnceLock<Tsc> = OnceLock::new();
    TSC.get_or_init(|| {
        let clock = quanta::Clock::new();
        let base_raw = clock.raw();
        Tsc {
            clock,
            base_raw,
            base: std::time::Instant::now(),
        }
    })
}

impl Clock {
    /// Now, as a tokio instant (so timers and deadlines can use it).
    #[inline]
    pub fn now(self) -> tokio::time::Instant {
        match self {
            Clock::Tokio => tokio::time::Instant::now(),
            Clock::Tsc => {
                let t = tsc();
                let nanos = t.clock.delta_as_nanos(t.base_raw, t.clock.raw());
                tokio::time::Instant::from_std(t.base + Duration::from_nanos(nanos))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tsc_clock_follows_the_monotonic_clock() {
        let (a, b) = (Clock::Tsc.now(), tokio::time::Instant::now());
        let drift = if a > b { a - b } else { b - a };
        assert!(drift < Duration::from_millis(50), "{drift:?}");
        std::thread::sleep(Duration::from_millis(20));
        let later = Clock::Tsc.now();
        assert!(later - a >= Duration::from_millis(19), "{:?}", later - a);
        assert!(later - a < Duration::from_secs(5));
    }
}
