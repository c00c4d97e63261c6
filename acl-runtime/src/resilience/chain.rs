//! The synchronous-chain guard: how many external calls one inbound request makes one
//! after the other, and how long they add up to.
//!
//! [`within`] (or [`ChainLayer`] on a tower/axum service) marks a request's scope with a
//! task-local record; every [`Operation::call`](crate::resilience::pipeline::Operation::call) inside
//! it adds to the record. Calls that overlap count as one step; a call that starts when
//! none is in flight starts a new step. When the steps exceed the limit, an event
//! (`tracing` warning) and a metric (`acl_sync_chain_exceeded_total`) say so, and
//! [`assert_at_most`] fails a test. The per-request count and summed latency are
//! recorded as histograms (`acl_request_external_calls`, `acl_request_external_seconds`).
//!
//! The record follows the request's task, not tasks it spawns (a spawned task is, by
//! construction, not in the request's synchronous path).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

tokio::task_local! {
    static CHAIN: RefCell<Record>;
}

/// What one request did with external systems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// External calls made.
    pub calls: usize,
    /// The longest run of calls made one after another (overlapping calls are one step).
    pub sequential: usize,
    /// The calls' latencies added up (what the request waited, if none overlapped).
    pub total_latency: Duration,
    /// The systems called, in order of first call.
    pub systems: Vec<String>,
}

#[derive(Debug, Default)]
struct Record {
    report: ChainReport,
    inflight: usize,
    steps: usize,
}

/// A call in flight within a chain; dropping it (even on cancellation) ends the call.
#[derive(Debug)]
pub(crate) struct CallMark {
    active: bool,
}

/// Notes the start of an external call to `system` in the current request, if any.
pub(crate) fn start(system: &str) -> CallMark {
    let active = CHAIN
        .try_with(|c| {
            let mut r = c.borrow_mut();
            if r.inflight == 0 {
                r.steps += 1;
                r.report.sequential = r.report.sequential.max(r.steps);
            }
            r.inflight += 1;
            r.report.calls += 1;
            if !r.report.systems.iter().any(|s| s == system) {
                r.report.systems.push(system.to_owned());
            }
        })
        .is_ok();
    CallMark { active }
}

impl CallMark {
    /// Ends the call, adding its latency (`took` is only asked inside a request's
    /// record, so calls outside one read no clock).
    pub(crate) fn finish(mut self, took: impl FnOnce() -> Duration) {
        if self.active {
            let took = took();
            self.active = false;
            let _ = CHAIN.try_with(|c| {
                let mut r = c.borrow_mut();
                r.inflight = r.inflight.saturating_sub(1);
                r.report.total_latency += took;
            });
        }
    }
}

impl Drop for CallMark {
    fn drop(&mut self) {
        if self.active {
            let _ = CHAIN.try_with(|c| {
                let mut r = c.borrow_mut();
                r.inflight = r.inflight.saturating_sub(1);
            });
        }
    }
}

/// Runs `request` (named `name` in events and metrics) with a chain record; warns when
/// it makes more than `limit` sequential external calls. Returns the output and the
/// report.
pub async fn within<F: Future>(name: &str, limit: usize, request: F) -> (F::Output, ChainReport) {
    let (output, record) = CHAIN
        .scope(RefCell::new(Record::default()), async {
            let out = request.await;
            let report = CHAIN.with(|c| c.borrow().report.clone());
            (out, report)
        })
        .await;
    observe(name, limit, &record);
    (output, record)
}

fn observe(name: &str, limit: usize, report: &ChainReport) {
    metrics::histogram!("acl_request_external_calls", "request" => name.to_owned())
        .record(report.calls as f64);
    metrics::histogram!("acl_request_external_seconds", "request" => name.to_owned())
        .record(report.total_latency.as_secs_f64());
    if report.sequential > limit {
        metrics::counter!("acl_sync_chain_exceeded_total", "request" => name.to_owned())
            .increment(1);
        tracing::warn!(
            request = name,
            sequential = report.sequential,
            limit,
            calls = report.calls,
            total_ms = report.total_latency.as_millis() as u64,
            systems = ?report.systems,
            "synchronous chain of external calls in a request path"
        );
    }
}

/// For tests: runs `request` and panics, with the report, if it makes more than
/// `limit` sequential external calls.
pub async fn assert_at_most<F: Future>(limit: usize, request: F) -> F::Output {
    let (out, report) = within("test", limit, request).await;
    assert!(
        report.sequential <= limit,
        "the request made {} sequential external calls (limit {limit}): {report:?}",
        report.sequential
    );
    out
}

/// Called with the request's name and report when a request exceeds the limit.
pub type OnExceeded = Arc<dyn Fn(&str, &ChainReport) + Send + Sync>;

/// A tower layer that runs every request of a service inside [`within`], named by its
/// method and path.
#[derive(Clone)]
pub struct ChainLayer {
    limit: usize,
    on_exceeded: Option<OnExceeded>,
}

impl std::fmt::Debug for ChainLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainLayer")
            .field("limit", &self.limit)
            .finish()
    }
}

impl ChainLayer {
    /// Warn when a request makes more than `limit` sequential external calls.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            on_exceeded: None,
        }
    }

    /// Also call `hook` (alerting, a test's probe) when a request exceeds the limit.
    pub fn on_exceeded(
        mut self,
        hook: impl Fn(&str, &ChainReport) + Send + Sync + 'static,
    ) -> Self {
        self.on_exceeded = Some(Arc::new(hook));
        self
    }
}

impl<S> tower_layer::Layer<S> for ChainLayer {
    type Service = ChainService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ChainService {
            inner,
            limit: self.limit,
            on_exceeded: self.on_exceeded.clone(),
        }
    }
}

/// The service [`ChainLayer`] makes.
#[derive(Clone)]
pub struct ChainService<S> {
    inner: S,
    limit: usize,
    on_exceeded: Option<OnExceeded>,
}

impl<S, B> tower_service::Service<http::Request<B>> for ChainService<S>
where
    S: tower_service::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let name = format!("{} {}", request.method(), request.uri().path());
        let (limit, hook) = (self.limit, self.on_exceeded.clone());
        let fut = self.inner.call(request);
        Box::pin(async move {
            let (out, report) = within(&name, limit, fut).await;
            if let Some(hook) = hook.filter(|_| report.sequential > limit) {
                hook(&name, &report);
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(system: &str, ms: u64) {
        let mark = start(system);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        mark.finish(|| Duration::from_millis(ms));
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_calls_are_one_step_sequential_ones_add_up() {
        let ((), r) = within("GET /orders", 2, async {
            call("crm", 10).await;
            tokio::join!(call("billing", 20), call("ledger", 30));
            call("crm", 5).await;
        })
        .await;
        assert_eq!(r.calls, 4);
        assert_eq!(r.sequential, 3);
        assert_eq!(r.total_latency, Duration::from_millis(65));
        assert_eq!(r.systems, vec!["crm", "billing", "ledger"]);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "made 3 sequential external calls (limit 2)")]
    async fn assert_at_most_fails_a_test_with_too_long_a_chain() {
        assert_at_most(2, async {
            call("a", 1).await;
            call("b", 1).await;
            call("c", 1).await;
        })
        .await;
    }

    #[tokio::test]
    async fn outside_a_request_nothing_is_recorded() {
        call("a", 0).await;
        let ((), r) = within("x", 1, async {}).await;
        assert_eq!(r, ChainReport::default());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_call_still_ends() {
        let ((), r) = within("x", 5, async {
            let _ = tokio::time::timeout(Duration::from_millis(1), call("slow", 100)).await;
            call("next", 1).await;
        })
        .await;
        assert_eq!((r.calls, r.sequential), (2, 2));
    }
}
