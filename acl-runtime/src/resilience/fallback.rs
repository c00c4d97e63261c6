//! What to answer when the external system cannot: the last good value (marked stale,
//! with its age), a default, a degraded result, or "queued for later"; or fail fast.
//!
//! A fallback only covers the external system's failures (circuit open, retries
//! exhausted on transient or rate-limited failures, bulkhead full, outbound limit).
//! A permanent error (the request is wrong) or invalid data (the vendor broke the
//! contract) is never papered over: those go to the caller and the dead-letter sink.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::resilience::classify::FailureClass;
use crate::resilience::pipeline::CallError;

/// An answer, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Served<T> {
    /// From the external system, just now.
    Fresh(T),
    /// The last good value: the system could not answer. Show it as stale.
    Stale {
        /// The value.
        value: T,
        /// How old it is.
        age: Duration,
    },
    /// A sensible default for non-critical data.
    Default(T),
    /// A partial answer built without the system.
    Degraded(T),
    /// The request was handed to a durable queue and will be retried later.
    Queued {
        /// The queue's reference for it.
        ticket: String,
    },
}

impl<T> Served<T> {
    /// The value, when there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Served::Fresh(v)
            | Served::Stale { value: v, .. }
            | Served::Default(v)
            | Served::Degraded(v) => Some(v),
            Served::Queued { .. } => None,
        }
    }
}

impl<E> CallError<E> {
    /// Whether the external system failed (so a fallback may answer instead), as
    /// opposed to the request being wrong or the answer breaking the contract.
    pub fn is_external_failure(&self) -> bool {
        match self {
            CallError::CircuitOpen { .. }
            | CallError::RateLimited { .. }
            | CallError::BulkheadFull { .. } => true,
            CallError::Failed { class, .. } => matches!(
                class,
                FailureClass::Transient | FailureClass::RateLimited { .. }
            ),
        }
    }
}

/// Keeps the last good value per key, for stale answers up to `max_age` old.
#[derive(Debug)]
pub struct LastGood<K, V> {
    max_age: Duration,
    values: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> LastGood<K, V> {
    /// Stale values older than `max_age` are not served.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            values: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers a fresh result, or answers a failure with the last good value.
    pub fn serve<E>(
        &self,
        key: K,
        result: Result<V, CallError<E>>,
        now: Instant,
    ) -> Result<Served<V>, CallError<E>> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(v) => {
                values.insert(key, (v.clone(), now));
                Ok(Served::Fresh(v))
            }
            Err(e) if e.is_external_failure() => match values.get(&key) {
                Some((v, at)) if now.saturating_duration_since(*at) <= self.max_age => {
                    Ok(Served::Stale {
                        value: v.clone(),
                        age: now.saturating_duration_since(*at),
                    })
                }
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// Answers an external failure with `default`.
pub fn or_default<T, E>(
    result: Result<T, CallError<E>>,
    default: T,
) -> Result<Served<T>, CallError<E>> {
    match result {
        Ok(v) => Ok(Served::Fresh(v)),
        Err(e) if e.is_external_failure() => Ok(Served::Default(default)),
        Err(e) => Err(e),
    }
}

/// Answers an external failure with a degraded result built from the error.
pub fn or_degrade<T, E>(
    result: Result<T, CallError<E>>,
    degrade: impl FnOnce(&CallError<E>) -> T,
) -> Result<Served<T>, CallError<E>> {
    match result {
        Ok(v) => Ok(Served::Fresh(v)),
        Err(e) if e.is_external_failure() => Ok(Served::Degraded(degrade(&e))),
        Err(e) => Err(e),
    }
}

/// A durable queue that takes requests to retry when the system recovers (the webhook
/// outbox and the SQLite/Redis stores implement it).
pub trait RetryQueue<R> {
    /// Stores `request`; returns a ticket, or why it could not.
    fn enqueue(&self, request: R) -> Result<String, String>;
}

/// Answers an external failure by queueing `request` for later.
pub fn or_queue<T, R, E>(
    result: Result<T, CallError<E>>,
    queue: &impl RetryQueue<R>,
    request: R,
) -> Result<Served<T>, CallError<E>> {
    match result {
        Ok(v) => Ok(Served::Fresh(v)),
        Err(e) if e.is_external_failure() => match queue.enqueue(request) {
            Ok(ticket) => Ok(Served::Queued { ticket }),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::breaker::OpenError;
    use crate::resilience::classify::Outcome;
    use crate::resilience::retry::StopReason;

    fn open() -> CallError<()> {
        CallError::CircuitOpen {
            operation: "op".into(),
            source: OpenError {
                retry_in: Duration::from_secs(5),
            },
        }
    }

    fn failed(class: FailureClass) -> CallError<()> {
        CallError::Failed {
            operation: "op".into(),
            attempts: 1,
            stopped: StopReason::NotRetryable,
            class,
            last_outcome: Outcome::Status(400),
            last: None,
        }
    }

    #[test]
    fn stale_values_are_served_with_their_age_within_max_age() {
        let cache = LastGood::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(cache.serve::<()>("k", Ok(1), t0).unwrap(), Served::Fresh(1));
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(
            cache.serve("k", Err(open()), t1).unwrap(),
            Served::Stale {
                value: 1,
                age: Duration::from_secs(30)
            }
        );
        assert!(
            cache
                .serve("k", Err(open()), t0 + Duration::from_secs(61))
                .is_err(),
            "too old"
        );
        assert!(
            cache.serve("other", Err(open()), t1).is_err(),
            "nothing cached"
        );
        assert!(
            cache
                .serve("k", Err(failed(FailureClass::Permanent)), t1)
                .is_err(),
            "the request is wrong: no fallback"
        );
        assert!(
            cache
                .serve("k", Err(failed(FailureClass::InvalidData)), t1)
                .is_err(),
            "bad data goes to the DLQ"
        );
    }

    #[test]
    fn default_degrade_and_queue() {
        assert_eq!(or_default(Err(open()), 0).unwrap(), Served::Default(0));
        assert_eq!(or_default::<i32, ()>(Ok(5), 0).unwrap(), Served::Fresh(5));
        assert_eq!(
            or_degrade(Err(failed(FailureClass::Transient)), |_| "partial").unwrap(),
            Served::Degraded("partial")
        );
        struct Q(Mutex<Vec<String>>);
        impl RetryQueue<String> for Q {
            fn enqueue(&self, r: String) -> Result<String, String> {
                let mut v = self.0.lock().unwrap();
                v.push(r);
                Ok(format!("t{}", v.len()))
            }
        }
        let q = Q(Mutex::new(Vec::new()));
        let served = or_queue::<(), _, ()>(Err(open()), &q, "charge 42".to_string()).unwrap();
        assert_eq!(
            served,
            Served::Queued {
                ticket: "t1".into()
            }
        );
        assert_eq!(q.0.lock().unwrap().as_slice(), ["charge 42"]);
        assert!(
            or_queue::<(), _, ()>(Err(failed(FailureClass::Permanent)), &q, "x".into()).is_err()
        );
    }
}
