//! Batching single requests into bulk calls, with partial failure handled per item.
//!
//! Callers [`Batcher::submit`] one item each and await their own result. A background
//! task collects items until `max_items` or `max_wait` after the first, sends them in
//! one bulk call, and gives each caller its item's outcome. Only the items that failed
//! with a retryable class (transient, rate-limited) are sent again, after a backoff
//! (or the server's `Retry-After`); an item that succeeded is never sent again. A
//! failure of the whole bulk call counts for every item still pending. The queue is
//! bounded: `submit` waits for room (backpressure), [`Batcher::try_submit`] refuses.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::resilience::classify::FailureClass;
use crate::resilience::retry::Backoff;

/// The outcome of one item in a bulk response.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome<O, E> {
    /// The item succeeded.
    Ok(O),
    /// The item failed; its class decides whether it is sent again.
    Failed {
        /// The item's error.
        error: E,
        /// Its class.
        class: FailureClass,
    },
}

/// Why an item did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError<E> {
    /// The item failed (after the retries its class allowed).
    #[error("item failed after {attempts} attempt(s) ({class:?})")]
    Failed {
        /// The last error.
        error: E,
        /// Its class.
        class: FailureClass,
        /// Bulk calls the item was part of.
        attempts: u32,
    },
    /// The queue is full ([`Batcher::try_submit`]).
    #[error("the batch queue is full")]
    QueueFull,
    /// The batcher has stopped.
    #[error("the batcher has stopped")]
    Closed,
    /// The bulk answer did not have one outcome per item, so no item's fate is known
    /// (it is not retried: it may have succeeded).
    #[error("the bulk call answered {answered} outcome(s) for {sent} item(s)")]
    Mismatch {
        /// Items sent.
        sent: usize,
        /// Outcomes received.
        answered: usize,
    },
}

/// How items are grouped and retried.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Items per bulk call, at most.
    pub max_items: usize,
    /// How long the first item of a batch waits for company.
    pub max_wait: Duration,
    /// Items waiting for a batch, at most (backpressure beyond).
    pub queue: usize,
    /// Bulk calls an item may be part of.
    pub max_attempts: u32,
    /// Delay before sending the failed items again.
    pub backoff: Backoff,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_items: 100,
            max_wait: Duration::from_millis(50),
            queue: 10_000,
            max_attempts: 4,
            backoff: Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5))
                .unwrap_or_else(|_| Backoff::fixed(Duration::from_millis(100))),
        }
    }
}

type Reply<O, E> = oneshot::Sender<Result<O, BatchError<E>>>;

/// A handle to submit items; cheap to clone. The task stops when every handle is gone.
pub struct Batcher<I, O, E> {
    tx: mpsc::Sender<(I, Reply<O, E>)>,
}

impl<I, O, E> Clone for Batcher<I, O, E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<I, O, E> std::fmt::Debug for Batcher<I, O, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("capacity", &self.tx.capacity())
            .finish()
    }
}

/// The bulk call: the items in, one outcome per item (same order) out, or an error for
/// the whole call with its class.
pub type BulkResult<O, E> = Result<Vec<ItemOutcome<O, E>>, (E, FailureClass)>;

impl<I, O, E> Batcher<I, O, E>
where
    I: Clone + Send + 'static,
    O: Send + 'static,
    E: Clone + Send + 'static,
{
    /// Starts the batching task (on the current tokio runtime) around `bulk`.
    pub fn spawn<F, Fut>(config: BatchConfig, bulk: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = BulkResult<O, E>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        tokio::spawn(run(config, Arc::new(bulk), rx));
        Self { tx }
    }

    /// Submits one item and waits for its outcome; waits for room when the queue is full.
    pub async fn submit(&self, item: I) -> Result<O, BatchError<E>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((item, reply))
            .await
            .map_err(|_| BatchError::Closed)?;
        answer.await.unwrap_or(Err(BatchError::Closed))
    }

    /// Submits one item, or refuses at once when the queue is full.
    pub async fn try_submit(&self, item: I) -> Result<O, BatchError<E>> {
        let (reply, answer) = oneshot::channel();
        self.tx.try_send((item, reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => BatchError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => BatchError::Closed,
        })?;
        answer.await.unwrap_or(Err(BatchError::Closed))
    }
}

struct Pending<I, O, E> {
    item: I,
    reply: Reply<O, E>,
    attempts: u32,
}

async fn run<I, O, E, F, Fut>(
    config: BatchConfig,
    bulk: Arc<F>,
    mut rx: mpsc::Receiver<(I, Reply<O, E>)>,
) where
    I: Clone,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = BulkResult<O, E>>,
    E: Clone,
{
    let max = config.max_items.max(1);
    let mut rng = fastrand::Rng::new();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + config.max_wait;
        while batch.len() < max {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(next)) => batch.push(next),
                Ok(None) | Err(_) => break,
            }
        }
        let mut pending: Vec<Pending<I, O, E>> = batch
            .into_iter()
            .map(|(item, reply)| Pending {
                item,
                reply,
                attempts: 0,
            })
            .collect();
        let mut previous = Duration::ZERO;
        while !pending.is_empty() {
            let items: Vec<I> = pending.iter().map(|p| p.item.clone()).collect();
            for p in &mut pending {
                p.attempts += 1;
            }
            metrics::counter!("acl_batch_calls_total").increment(1);
            metrics::histogram!("acl_batch_items").record(items.len() as f64);
            let outcomes: Vec<ItemOutcome<O, E>> = match bulk(items).await {
                Ok(o) if o.len() == pending.len() => o,
                Ok(o) => {
                    // A bulk answer that does not match the request is invalid for all:
                    // no item is assumed to have succeeded.
                    tracing::error!(
                        sent = pending.len(),
                        answered = o.len(),
                        "bulk response has a different number of items"
                    );
                    let (sent, answered) = (pending.len(), o.len());
                    for p in pending.drain(..) {
                        let _ = p.reply.send(Err(BatchError::Mismatch { sent, answered }));
                    }
                    break;
                }
                Err((error, class)) => pending
                    .iter()
                    .map(|_| ItemOutcome::Failed {
                        error: error.clone(),
                        class,
                    })
                    .collect(),
            };
            let mut again = Vec::new();
            let mut server_delay: Option<Duration> = None;
            for (p, outcome) in pending.drain(..).zip(outcomes) {
                match outcome {
                    ItemOutcome::Ok(o) => {
                        let _ = p.reply.send(Ok(o));
                    }
                    ItemOutcome::Failed { error, class } => {
                        if class.is_retryable() && p.attempts < config.max_attempts {
                            if let FailureClass::RateLimited {
                                retry_after: Some(d),
                            } = class
                            {
                                server_delay = Some(server_delay.map_or(d, |s| s.max(d)));
                            }
                            again.push(p);
                        } else {
                            let attempts = p.attempts;
                            let _ = p.reply.send(Err(BatchError::Failed {
                                error,
                                class,
                                attempts,
                            }));
                        }
                    }
                }
            }
            if again.is_empty() {
                break;
            }
            metrics::counter!("acl_batch_item_retries_total").increment(again.len() as u64);
            let attempt = again[0].attempts;
            let delay = config
                .backoff
                .delay(attempt, previous, &mut rng)
                .max(server_delay.unwrap_or_default());
            previous = delay;
            tokio::time::sleep(delay).await;
            pending = again;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test(start_paused = true)]
    async fn items_are_grouped_by_count_or_time() {
        let calls = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let c = calls.clone();
        let b: Batcher<u32, u32, String> = Batcher::spawn(
            BatchConfig {
                max_items: 3,
                max_wait: Duration::from_millis(50),
                ..BatchConfig::default()
            },
            move |items: Vec<u32>| {
                c.lock().unwrap().push(items.clone());
                async move { Ok(items.into_iter().map(|i| ItemOutcome::Ok(i * 10)).collect()) }
            },
        );
        let start = tokio::time::Instant::now();
        let (a, b2, c2, d) = tokio::join!(b.submit(1), b.submit(2), b.submit(3), b.submit(4));
        assert_eq!((a, b2, c2, d), (Ok(10), Ok(20), Ok(30), Ok(40)));
        assert_eq!(*calls.lock().unwrap(), vec![vec![1, 2, 3], vec![4]]);
        // The lone fourth item waited max_wait for company.
        assert_eq!(start.elapsed(), Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn only_failed_items_are_retried_and_by_class() {
        let calls = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let c = calls.clone();
        let b: Batcher<u32, u32, String> = Batcher::spawn(
            BatchConfig {
                max_items: 10,
                max_wait: Duration::from_millis(5),
                max_attempts: 3,
                backoff: Backoff::fixed(Duration::from_millis(100)),
                ..BatchConfig::default()
            },
            move |items: Vec<u32>| {
                let n = {
                    let mut c = c.lock().unwrap();
                    c.push(items.clone());
                    c.len()
                };
                async move {
                    Ok(items
                        .into_iter()
                        .map(|i| match i {
                            // 2 fails once (transient), 3 is invalid (permanent), 4 always 503.
                            2 if n == 1 => ItemOutcome::Failed {
                                error: "503".into(),
                                class: FailureClass::Transient,
                            },
                            3 => ItemOutcome::Failed {
                                error: "422".into(),
                                class: FailureClass::Permanent,
                            },
                            4 => ItemOutcome::Failed {
                                error: "503".into(),
                                class: FailureClass::Transient,
                            },
                            i => ItemOutcome::Ok(i),
                        })
                        .collect())
                }
            },
        );
        let (r1, r2, r3, r4) = tokio::join!(b.submit(1), b.submit(2), b.submit(3), b.submit(4));
        assert_eq!(r1, Ok(1));
        assert_eq!(r2, Ok(2));
        assert_eq!(
            r3,
            Err(BatchError::Failed {
                error: "422".into(),
                class: FailureClass::Permanent,
                attempts: 1
            })
        );
        assert_eq!(
            r4,
            Err(BatchError::Failed {
                error: "503".into(),
                class: FailureClass::Transient,
                attempts: 3
            })
        );
        assert_eq!(
            *calls.lock().unwrap(),
            vec![vec![1, 2, 3, 4], vec![2, 4], vec![4]],
            "succeeded items are never resent"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_bulk_answer_with_the_wrong_count_fails_every_item_without_retry() {
        let calls = Arc::new(Mutex::new(0));
        let c = calls.clone();
        let b: Batcher<u32, u32, String> = Batcher::spawn(
            BatchConfig {
                max_items: 2,
                max_wait: Duration::from_millis(5),
                ..BatchConfig::default()
            },
            move |_items: Vec<u32>| {
                *c.lock().unwrap() += 1;
                async move { Ok(vec![ItemOutcome::Ok(1)]) }
            },
        );
        let (r1, r2) = tokio::join!(b.submit(1), b.submit(2));
        assert_eq!(
            r1,
            Err(BatchError::Mismatch {
                sent: 2,
                answered: 1
            })
        );
        assert_eq!(
            r2,
            Err(BatchError::Mismatch {
                sent: 2,
                answered: 1
            })
        );
        assert_eq!(
            *calls.lock().unwrap(),
            1,
            "not retried: some items may have succeeded"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_with_try_submit() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let b: Batcher<u32, u32, String> = Batcher::spawn(
            BatchConfig {
                max_items: 1,
                max_wait: Duration::ZERO,
                queue: 1,
                ..BatchConfig::default()
            },
            move |items: Vec<u32>| {
                let g = g.clone();
                async move {
                    g.notified().await;
                    Ok(items.into_iter().map(ItemOutcome::Ok).collect())
                }
            },
        );
        let b1 = b.clone();
        let first = tokio::spawn(async move { b1.submit(1).await });
        tokio::time::sleep(Duration::from_millis(1)).await; // taken by the task, blocked in bulk
        let b2 = b.clone();
        let second = tokio::spawn(async move { b2.submit(2).await }); // fills the queue
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(b.try_submit(3).await, Err(BatchError::QueueFull));
        gate.notify_one();
        assert_eq!(first.await.unwrap(), Ok(1));
        gate.notify_one();
        assert_eq!(second.await.unwrap(), Ok(2));
    }
}
