//! Processing from the inbox: one delivery at a time per worker, retried with backoff,
//! dead-lettered with its error when it keeps failing or is invalid.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::resilience::retry::Backoff;
use crate::store::{unix_ms, Delivery, InboxStore, StoreError};

pub use crate::boundary::events::HandlerError;

/// What a worker did with one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Handled.
    Done {
        /// The delivery id.
        id: String,
    },
    /// Failed; due again later.
    Retrying {
        /// The delivery id.
        id: String,
        /// The attempt that failed.
        attempt: u32,
        /// The error.
        error: HandlerError,
    },
    /// Moved to the dead-letter queue.
    DeadLettered {
        /// The delivery id.
        id: String,
        /// The error.
        error: HandlerError,
    },
}

/// Takes deliveries from an inbox and hands them to a handler.
#[derive(Clone)]
pub struct InboxWorker {
    store: Arc<dyn InboxStore>,
    lease: Duration,
    timeout: Duration,
    max_attempts: u32,
    backoff: Backoff,
    idle: Duration,
    in_order: bool,
}

impl std::fmt::Debug for InboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxWorker")
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl InboxWorker {
    /// A worker over `store`: 8 attempts, exponential backoff from 1 s to 10 min with
    /// full jitter, 30 s per attempt, unordered.
    pub fn new(store: Arc<dyn InboxStore>) -> Self {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(600))
            .unwrap_or_else(|_| Backoff::fixed(Duration::from_secs(1)));
        Self {
            store,
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            max_attempts: 8,
            backoff,
            idle: Duration::from_millis(200),
            in_order: false,
        }
    }

    /// Attempts before dead-lettering (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The delay between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The handler's time limit per attempt; the claim's lease is twice that, so a
    /// worker that died gives its delivery back.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.lease = timeout * 2;
        self
    }

    /// How long to wait when the inbox is empty.
    pub fn idle_wait(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Process deliveries of one key strictly in order (a delivery waits while an older
    /// one of its key is unfinished), and different keys in parallel.
    pub fn in_order(mut self, yes: bool) -> Self {
        self.in_order = yes;
        self
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn InboxStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| StoreError::new("inbox", e))?
    }

    /// Processes the next due delivery, if any.
    pub async fn process_one<F, Fut>(&self, handler: &F) -> Result<Option<Processed>, StoreError>
    where
        F: Fn(Delivery) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let (lease, in_order) = (self.lease, self.in_order);
        let Some(delivery) = self
            .blocking(move |s| s.claim(unix_ms(), lease, in_order))
            .await?
        else {
            return Ok(None);
        };
        let id = delivery.delivery.id.clone();
        let source = delivery.delivery.source.clone();
        let attempt = delivery.attempt;
        // Processing continues the delivery's trace (feature `otel`): the receiver's
        // span, stored with it.
        let span = tracing::info_span!(
            "acl.webhook.process",
            "acl.webhook.source" = %source,
            "acl.attempt" = attempt,
        );
        #[cfg(feature = "otel")]
        crate::otel::set_parent(
            &span,
            crate::otel::extract_stored(&delivery.delivery.headers),
        );
        let handled = tracing::Instrument::instrument(handler(delivery), span);
        let result = match tokio::time::timeout(self.timeout, handled).await {
            Ok(r) => r,
            Err(_) => Err(HandlerError::Retry(format!(
                "the handler took longer than {:?}",
                self.timeout
            ))),
        };
        let processed = match result {
            Ok(()) => {
                let i = id.clone();
                self.blocking(move |s| s.complete(&i, unix_ms())).await?;
                Processed::Done { id }
            }
            Err(HandlerError::Retry(msg)) if attempt < self.max_attempts => {
                let delay = self
                    .backoff
                    .delay(attempt, Duration::ZERO, &mut fastrand::Rng::new());
                let (i, m) = (id.clone(), msg.clone());
                let at = unix_ms() + delay.as_millis() as i64;
                self.blocking(move |s| s.retry_at(&i, at, &m)).await?;
                Processed::Retrying {
                    id,
                    attempt,
                    error: HandlerError::Retry(msg),
                }
            }
            Err(error) => {
                let (i, m) = (id.clone(), format!("after {attempt} attempt(s): {error}"));
                self.blocking(move |s| s.dead_letter(&i, &m, unix_ms()))
                    .await?;
                tracing::warn!(%id, %error, "webhook delivery dead-lettered");
                Processed::DeadLettered { id, error }
            }
        };
        let outcome = match &processed {
            Processed::Done { .. } => "done",
            Processed::Retrying { .. } => "retrying",
            Processed::DeadLettered { .. } => "dead_lettered",
        };
        metrics::counter!("acl_webhook_processed_total", "source" => source, "outcome" => outcome)
            .increment(1);
        Ok(Some(processed))
    }

    /// Processes until `shutdown` completes; waits `idle_wait` when nothing is due and
    /// backs off the same way when the store fails.
    pub async fn run<F, Fut>(&self, handler: F, shutdown: impl Future<Output = ()>)
    where
        F: Fn(Delivery) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let work = async {
            let mut gauged: Option<tokio::time::Instant> = None;
            loop {
                // The inbox's depth and its dead letters, for dashboards: refreshed at
                // most every 5 s (a count is a query), and when the inbox runs dry.
                if gauged.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                    gauged = Some(tokio::time::Instant::now());
                    if let Ok(counts) = self.blocking(|s| s.counts()).await {
                        let gauge = |state: &'static str, n: u64| {
                            metrics::gauge!("acl_inbox_deliveries", "state" => state).set(n as f64);
                        };
                        gauge("pending", counts.pending);
                        gauge("processing", counts.processing);
                        gauge("dead", counts.dead);
                    }
                }
                match self.process_one(&handler).await {
                    Ok(Some(_)) => {}
                    // A store that announces new work (PostgreSQL's NOTIFY) wakes the
                    // worker early; `idle_wait` stays the slow poll behind it.
                    Ok(None) if self.store.notifies() => {
                        let idle = self.idle;
                        let _ = self
                            .blocking(move |s| {
                                s.wait_for_work(idle);
                                Ok(())
                            })
                            .await;
                    }
                    Ok(None) => tokio::time::sleep(self.idle).await,
                    Err(e) => {
                        tracing::error!(error = %e, "inbox store failed");
                        tokio::time::sleep(self.idle).await;
                    }
                }
            }
        };
        until(work, shutdown).await
    }
}

/// Runs `work` until `shutdown` completes (tokio's `select!` without its macros).
pub(crate) async fn until(work: impl Future<Output = ()>, shutdown: impl Future<Output = ()>) {
    let mut work = std::pin::pin!(work);
    let mut shutdown = std::pin::pin!(shutdown);
    std::future::poll_fn(|cx| {
        if shutdown.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(());
        }
        work.as_mut().poll(cx)
    })
    .await
}
