//! Delays between attempts: exponential, linear or fixed, with full, equal or
//! decorrelated jitter (the variants of "Exponential Backoff And Jitter", AWS
//! Architecture Blog).

use std::time::Duration;

use super::InvalidRetry;

pub use acl_policy::{BackoffKind, Jitter};

/// A backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    kind: BackoffKind,
    multiplier: f64,
    base: Duration,
    max: Duration,
    jitter: Jitter,
}

impl Backoff {
    /// Exponential from `base`, doubling, never above `max`, with full jitter.
    pub fn exponential(base: Duration, max: Duration) -> Result<Self, InvalidRetry> {
        Self::new(BackoffKind::Exponential, base, max, Jitter::Full)
    }

    /// `base`, `2 * base`, `3 * base`, ... never above `max`, without jitter.
    pub fn linear(base: Duration, max: Duration) -> Result<Self, InvalidRetry> {
        Self::new(BackoffKind::Linear, base, max, Jitter::None)
    }

    /// The same delay every time, without jitter.
    pub fn fixed(delay: Duration) -> Self {
        Self {
            kind: BackoffKind::Fixed,
            multiplier: 1.0,
            base: delay,
            max: delay,
            jitter: Jitter::None,
        }
    }

    /// Any combination, checked; an exponential one doubles (see [`Backoff::multiplier`]).
    pub fn new(
        kind: BackoffKind,
        base: Duration,
        max: Duration,
        jitter: Jitter,
    ) -> Result<Self, InvalidRetry> {
        if max < base {
            return Err(InvalidRetry {
                field: "max",
                reason: "must not be below the base delay",
            });
        }
        Ok(Self {
            kind,
            multiplier: 2.0,
            base,
            max,
            jitter,
        })
    }

    /// The same schedule growing by `multiplier` per attempt when exponential.
    pub fn multiplier(mut self, multiplier: f64) -> Result<Self, InvalidRetry> {
        if !(multiplier.is_finite() && multiplier >= 1.0) {
            return Err(InvalidRetry {
                field: "multiplier",
                reason: "must be a finite number of at least 1",
            });
        }
        self.multiplier = multiplier;
        Ok(self)
    }

    /// The same schedule with another jitter.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32, previous: Duration, rng: &mut fastrand::Rng) -> Duration {
        let attempt = attempt.max(1);
        let raw = match self.kind {
            BackoffKind::Exponential => {
                let factor = self
                    .multiplier
                    .powi(attempt.saturating_sub(1).min(1000) as i32);
                let secs = self.base.as_secs_f64() * factor;
                if secs.is_finite() && secs < self.max.as_secs_f64() {
                    Duration::from_secs_f64(secs)
                } else {
                    self.max
                }
            }
            BackoffKind::Linear => self.base.saturating_mul(attempt).min(self.max),
            BackoffKind::Fixed => self.base,
        };
        let uniform = |rng: &mut fastrand::Rng, lo: Duration, hi: Duration| -> Duration {
            if hi <= lo {
                return lo;
            }
            lo + Duration::from_nanos(
                rng.u64(0..=(hi - lo).as_nanos().min(u64::MAX as u128) as u64),
            )
        };
        match self.jitter {
            Jitter::None => raw,
            Jitter::Full => uniform(rng, Duration::ZERO, raw),
            Jitter::Equal => raw / 2 + uniform(rng, Duration::ZERO, raw / 2),
            Jitter::Decorrelated => {
                let hi = previous.max(self.base).saturating_mul(3).min(self.max);
                uniform(rng, self.base, hi)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let b = Backoff::exponential(100 * MS, 1000 * MS)
            .unwrap()
            .with_jitter(Jitter::None);
        let mut rng = fastrand::Rng::with_seed(7);
        let delays: Vec<_> = (1..=6)
            .map(|a| b.delay(a, Duration::ZERO, &mut rng))
            .collect();
        assert_eq!(
            delays,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(b.delay(u32::MAX, Duration::ZERO, &mut rng), 1000 * MS);
    }

    #[test]
    fn linear_and_fixed() {
        let mut rng = fastrand::Rng::with_seed(7);
        let l = Backoff::linear(100 * MS, 250 * MS).unwrap();
        assert_eq!(
            [1, 2, 3].map(|a| l.delay(a, Duration::ZERO, &mut rng)),
            [100 * MS, 200 * MS, 250 * MS]
        );
        assert_eq!(
            Backoff::fixed(50 * MS).delay(9, Duration::ZERO, &mut rng),
            50 * MS
        );
    }

    #[test]
    fn jitter_stays_in_its_bounds() {
        let mut rng = fastrand::Rng::with_seed(42);
        let base = Backoff::exponential(100 * MS, 10_000 * MS).unwrap();
        for attempt in 1..8 {
            let raw = base
                .with_jitter(Jitter::None)
                .delay(attempt, Duration::ZERO, &mut rng);
            for _ in 0..200 {
                let full = base
                    .with_jitter(Jitter::Full)
                    .delay(attempt, Duration::ZERO, &mut rng);
                assert!(full <= raw);
                let equal =
                    base.with_jitter(Jitter::Equal)
                        .delay(attempt, Duration::ZERO, &mut rng);
                assert!(equal >= raw / 2 && equal <= raw);
                let prev = raw;
                let dec = base
                    .with_jitter(Jitter::Decorrelated)
                    .delay(attempt, prev, &mut rng);
                assert!(dec >= 100 * MS && dec <= (prev * 3).min(10_000 * MS));
            }
        }
        // Full jitter actually spreads.
        let samples: std::collections::BTreeSet<_> = (0..50)
            .map(|_| {
                base.with_jitter(Jitter::Full)
                    .delay(5, Duration::ZERO, &mut rng)
            })
            .collect();
        assert!(samples.len() > 40);
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(Backoff::exponential(2 * MS, MS).unwrap_err().field, "max");
        let e = Backoff::new(BackoffKind::Exponential, MS, MS, Jitter::None)
            .unwrap()
            .multiplier(0.5)
            .unwrap_err();
        assert_eq!(e.field, "multiplier");
    }
}
