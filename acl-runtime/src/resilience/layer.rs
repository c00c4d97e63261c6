//! The pipeline as a tower [`Layer`](tower_layer::Layer), for users of tower and axum:
//! `ServiceBuilder::new().layer(AclLayer::new(operation, classify)).service(client)`.
//!
//! A tower service answers with a response or an error; `classify` says which answers
//! are failures and what kind (`None` for success), since only the caller knows its
//! response type. The request must be `Clone`: a retry sends it again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::resilience::classify::Outcome;
use crate::resilience::pipeline::{AttemptError, CallError, Operation};

/// Says whether an answer is a failure: `Some((outcome, retry_after))` or `None`.
pub type Classify<Resp, E> =
    Arc<dyn Fn(&Result<Resp, E>) -> Option<(Outcome, Option<String>)> + Send + Sync>;

/// Wraps a service in an operation's pipeline.
pub struct AclLayer<Resp, E> {
    operation: Arc<Operation>,
    classify: Classify<Resp, E>,
}

impl<Resp, E> Clone for AclLayer<Resp, E> {
    fn clone(&self) -> Self {
        Self {
            operation: self.operation.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<Resp, E> AclLayer<Resp, E> {
    /// The layer for `operation`, with `classify` to tell failures from successes.
    pub fn new(
        operation: Operation,
        classify: impl Fn(&Result<Resp, E>) -> Option<(Outcome, Option<String>)> + Send + Sync + 'static,
    ) -> Self {
        Self {
            operation: Arc::new(operation),
            classify: Arc::new(classify),
        }
    }
}

impl<S, Resp, E> tower_layer::Layer<S> for AclLayer<Resp, E> {
    type Service = AclService<S, Resp, E>;
    fn layer(&self, inner: S) -> Self::Service {
        AclService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service whose calls go through the pipeline.
pub struct AclService<S, Resp, E> {
    inner: S,
    layer: AclLayer<Resp, E>,
}

impl<S: Clone, Resp, E> Clone for AclService<S, Resp, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

/// What the service answers when the pipeline gives up: the inner service's last
/// answer (a failing response or its error) is inside.
pub type AclError<Resp, E> = CallError<Result<Resp, E>>;

impl<S, Req, Resp, E> tower_service::Service<Req> for AclService<S, Resp, E>
where
    S: tower_service::Service<Req, Response = Resp, Error = E> + Clone + Send + Sync + 'static,
    S::Future: Send,
    Req: Clone + Send + Sync + 'static,
    Resp: Send + 'static,
    E: Send + 'static,
{
    type Response = Resp;
    type Error = AclError<Resp, E>;
    type Future = Pin<Box<dyn Future<Output = Result<Resp, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is checked per attempt on a clone, so a retry never waits on a
        // service another caller has reserved.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            layer
                .operation
                .call(|_| {
                    let mut service = inner.clone();
                    let request = request.clone();
                    let classify = layer.classify.clone();
                    async move {
                        std::future::poll_fn(|cx| service.poll_ready(cx)).await.ok();
                        let answer = service.call(request).await;
                        match classify(&answer) {
                            None => match answer {
                                Ok(r) => Ok(r),
                                // An error the classifier calls success has no value to give.
                                Err(e) => Err(AttemptError {
                                    outcome: Outcome::ConnectionReset,
                                    retry_after: None,
                                    error: Err(e),
                                }),
                            },
                            Some((outcome, retry_after)) => Err(AttemptError {
                                outcome,
                                retry_after,
                                error: answer,
                            }),
                        }
                    }
                })
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::breaker::{BreakerConfig, CircuitBreaker};
    use crate::resilience::classify::Idempotency;
    use crate::resilience::pipeline::System;
    use crate::resilience::retry::{Backoff, RetryBudget, RetryPolicy};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;
    use tower_layer::Layer;
    use tower_service::Service;

    /// A fake vendor: answers 503 twice, then 200.
    #[derive(Clone)]
    struct Vendor(Arc<AtomicU32>);

    impl Service<&'static str> for Vendor {
        type Response = u16;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<u16, std::io::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: &'static str) -> Self::Future {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(if n < 2 { 503 } else { 200 }))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_retries_through_the_pipeline() {
        let sys = Arc::new(System::new(
            "vendor",
            CircuitBreaker::new(BreakerConfig::default()).unwrap(),
            RetryBudget::new(Duration::from_secs(10), 1.0, 10).unwrap(),
        ));
        let backoff = Backoff::fixed(Duration::from_millis(100));
        let op = Operation::new(
            "get",
            sys,
            Duration::from_secs(1),
            Duration::from_secs(10),
            RetryPolicy::new(3, Duration::from_secs(10), backoff).unwrap(),
            Idempotency::Idempotent,
        )
        .unwrap();
        let layer = AclLayer::new(op, |r: &Result<u16, std::io::Error>| match r {
            Ok(s) if *s >= 400 => Some((Outcome::Status(*s), None)),
            Ok(_) => None,
            Err(_) => Some((Outcome::ConnectionReset, None)),
        });
        let calls = Arc::new(AtomicU32::new(0));
        let mut service = layer.layer(Vendor(calls.clone()));
        let start = tokio::time::Instant::now();
        assert_eq!(service.call("GET /thing").await.unwrap(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_millis(200));
    }
}
