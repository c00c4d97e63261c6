//! Event ordering (feature `webhooks`): processing in order per key, and sequence
//! numbers checked for gaps and reordering.
//!
//! - The inbox processes keyed deliveries in order when its workers are
//!   [`in_order`](crate::webhook::InboxWorker::in_order) (sequential per key, parallel
//!   across keys; the key comes from [`Receiver::order_key_from`](crate::webhook::Receiver::order_key_from)).
//! - A poller's page, or any batch, goes through [`per_key`]: items of one key one after
//!   the other in their order, different keys at once.
//! - When the source numbers its events, a [`SequenceTracker`] says for each one whether
//!   it is next, a gap (with the missing numbers), a late (out-of-order) one or a
//!   duplicate, and counts them (`acl_sequence_anomalies_total{kind}`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::store::{CursorState, CursorStore, StoreError};

/// What a sequence number says about the stream of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// The first number seen for the key.
    First,
    /// The next one.
    InOrder,
    /// Numbers were skipped: `from..=to` are missing (so far).
    Gap {
        /// First missing.
        from: u64,
        /// Last missing.
        to: u64,
    },
    /// Older than the newest seen: it arrived late (it may fill a gap).
    OutOfOrder {
        /// The newest number seen for the key.
        newest: u64,
    },
    /// Seen before.
    Duplicate,
}

#[derive(Debug, Default)]
struct KeyTrack {
    newest: u64,
    /// Missing numbers still expected, as inclusive ranges.
    missing: Vec<(u64, u64)>,
}

/// Tracks sequence numbers per key. Persisted through a [`CursorStore`] when given one
/// (each key's newest number as `seq:<name>:<key>`), so a restart does not report the
/// whole stream as new.
pub struct SequenceTracker {
    name: String,
    keys: Mutex<HashMap<String, KeyTrack>>,
    store: Option<Arc<dyn CursorStore>>,
}

impl std::fmt::Debug for SequenceTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceTracker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SequenceTracker {
    /// An in-memory tracker named `name` (metrics, events).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            keys: Mutex::new(HashMap::new()),
            store: None,
        }
    }

    /// Keeps each key's newest number in `store`.
    pub fn persisted(mut self, store: Arc<dyn CursorStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks `seq` for `key` and records it.
    pub fn observe(&self, key: &str, seq: u64) -> Result<SequenceCheck, StoreError> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| StoreError::new("sequence", "poisoned"))?;
        if !keys.contains_key(key) {
            let saved = match &self.store {
                Some(s) => s
                    .load(&format!("seq:{}:{key}", self.name))?
                    .and_then(|c| c.cursor)
                    .and_then(|c| c.parse::<u64>().ok()),
                None => None,
            };
            if let Some(newest) = saved {
                keys.insert(
                    key.to_owned(),
                    KeyTrack {
                        newest,
                        missing: Vec::new(),
                    },
                );
            }
        }
        let check = match keys.get_mut(key) {
            None => {
                keys.insert(
                    key.to_owned(),
                    KeyTrack {
                        newest: seq,
                        missing: Vec::new(),
                    },
                );
                SequenceCheck::First
            }
            Some(t) if seq == t.newest + 1 => {
                t.newest = seq;
                SequenceCheck::InOrder
            }
            Some(t) if seq > t.newest + 1 => {
                let gap = (t.newest + 1, seq - 1);
                t.missing.push(gap);
                t.newest = seq;
                SequenceCheck::Gap {
                    from: gap.0,
                    to: gap.1,
                }
            }
            Some(t) => {
                // Older than the newest: a late arrival if it was missing, else a repeat.
                match t.missing.iter().position(|(a, b)| (*a..=*b).contains(&seq)) {
                    Some(i) => {
                        let (a, b) = t.missing.remove(i);
                        if a < seq {
                            t.missing.push((a, seq - 1));
                        }
                        if seq < b {
                            t.missing.push((seq + 1, b));
                        }
                        SequenceCheck::OutOfOrder { newest: t.newest }
                    }
                    None => SequenceCheck::Duplicate,
                }
            }
        };
        let newest = keys.get(key).map(|t| t.newest);
        drop(keys);
        if matches!(
            check,
            SequenceCheck::First | SequenceCheck::InOrder | SequenceCheck::Gap { .. }
        ) {
            if let (Some(store), Some(newest)) = (&self.store, newest) {
                store.save(
                    &format!("seq:{}:{key}", self.name),
                    &CursorState {
                        cursor: Some(newest.to_string()),
                        ..CursorState::default()
                    },
                )?;
            }
        }
        let kind = match check {
            SequenceCheck::Gap { from, to } => {
                tracing::warn!(tracker = %self.name, key, from, to, "sequence gap");
                Some("gap")
            }
            SequenceCheck::OutOfOrder { newest } => {
                tracing::info!(tracker = %self.name, key, seq, newest, "event arrived out of order");
                Some("out_of_order")
            }
            SequenceCheck::Duplicate => Some("duplicate"),
            _ => None,
        };
        if let Some(kind) = kind {
            metrics::counter!("acl_sequence_anomalies_total", "tracker" => self.name.clone(), "kind" => kind).increment(1);
        }
        Ok(check)
    }

    /// The numbers of `key` still missing, as inclusive ranges.
    pub fn missing(&self, key: &str) -> Vec<(u64, u64)> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let mut m = keys.get(key).map(|t| t.missing.clone()).unwrap_or_default();
        m.sort_unstable();
        m
    }
}

/// Runs `f` over `items`: the items of one key one after the other, in their order;
/// different keys concurrently. Returns the results in the items' order.
pub async fn per_key<T, K, R, Fut>(
    items: Vec<T>,
    key: impl Fn(&T) -> K,
    f: impl Fn(T) -> Fut,
) -> Vec<R>
where
    K: Eq + std::hash::Hash,
    Fut: Future<Output = R>,
{
    let n = items.len();
    let mut groups: Vec<Vec<(usize, T)>> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let g = *index.entry(key(&item)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push((i, item));
    }
    let f = &f;
    let runs = groups.into_iter().map(|group| async move {
        let mut out = Vec::with_capacity(group.len());
        for (i, item) in group {
            out.push((i, f(item).await));
        }
        out
    });
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (i, r) in futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
    {
        results[i] = Some(r);
    }
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_late_arrivals_and_duplicates_are_told_apart() {
        let t = SequenceTracker::new("orders");
        assert_eq!(t.observe("o1", 1).unwrap(), SequenceCheck::First);
        assert_eq!(t.observe("o1", 2).unwrap(), SequenceCheck::InOrder);
        assert_eq!(
            t.observe("o1", 6).unwrap(),
            SequenceCheck::Gap { from: 3, to: 5 }
        );
        assert_eq!(t.missing("o1"), vec![(3, 5)]);
        assert_eq!(
            t.observe("o1", 4).unwrap(),
            SequenceCheck::OutOfOrder { newest: 6 }
        );
        assert_eq!(t.missing("o1"), vec![(3, 3), (5, 5)]);
        assert_eq!(t.observe("o1", 4).unwrap(), SequenceCheck::Duplicate);
        assert_eq!(t.observe("o1", 2).unwrap(), SequenceCheck::Duplicate);
        assert_eq!(
            t.observe("o2", 9).unwrap(),
            SequenceCheck::First,
            "keys are separate"
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_persisted_tracker_resumes_after_a_restart() {
        {
            let store: Arc<dyn CursorStore> =
                Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap());
            let t = SequenceTracker::new("s").persisted(store.clone());
            t.observe("k", 1).unwrap();
            t.observe("k", 2).unwrap();
            let again = SequenceTracker::new("s").persisted(store);
            assert_eq!(again.observe("k", 3).unwrap(), SequenceCheck::InOrder);
            assert_eq!(
                again.observe("k", 5).unwrap(),
                SequenceCheck::Gap { from: 4, to: 4 }
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn per_key_is_sequential_within_a_key_and_parallel_across_keys() {
        use std::time::Duration;
        let log = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let items = vec![("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2), ("a", 3)];
        let out = per_key(
            items,
            |(k, _)| *k,
            |(k, n)| {
                let log = &log;
                async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    log.lock().unwrap().push((k, n));
                    format!("{k}{n}")
                }
            },
        )
        .await;
        assert_eq!(
            out,
            vec!["a1", "b1", "a2", "c1", "b2", "a3"],
            "results in item order"
        );
        // Three keys at once: as long as the longest key (a: 3 × 10 ms), not 6 × 10 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(30));
        let log = log.into_inner().unwrap();
        let a: Vec<_> = log
            .iter()
            .filter(|(k, _)| *k == "a")
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(a, vec![1, 2, 3]);
    }
}
