//! The server side of rate limiting: a tower layer (usable in axum) that answers
//! `429 Too Many Requests` with `Retry-After` and the IETF draft's `RateLimit` and
//! `RateLimit-Policy` fields (plus the legacy `X-RateLimit-*`) when a client is over its
//! limit, and passes the request on otherwise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderValue, Request, Response, StatusCode};

use crate::resilience::rate_limit::{Algorithm, Decision, RateLimiter};

/// Names the client of a request (API key, account, peer address).
pub type KeyOf<B> = Arc<dyn Fn(&Request<B>) -> String + Send + Sync>;

/// Limits inbound requests per client.
pub struct InboundRateLimitLayer<B> {
    limiter: Arc<RateLimiter>,
    key: KeyOf<B>,
    policy: String,
}

impl<B> Clone for InboundRateLimitLayer<B> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<B> InboundRateLimitLayer<B> {
    /// Limits each client (named by `key`) with `limiter`.
    pub fn new(
        limiter: RateLimiter,
        key: impl Fn(&Request<B>) -> String + Send + Sync + 'static,
    ) -> Self {
        let policy = match limiter_algorithm(&limiter) {
            Some((limit, window)) => format!("{limit};w={window}"),
            None => String::new(),
        };
        Self {
            limiter: Arc::new(limiter),
            key: Arc::new(key),
            policy,
        }
    }
}

fn limiter_algorithm(l: &RateLimiter) -> Option<(u64, u64)> {
    match *l.algorithm() {
        Algorithm::TokenBucket { rate, burst } => Some(((rate.ceil() as u64).max(burst as u64), 1)),
        Algorithm::LeakyBucket { rate, capacity } => {
            Some(((rate.ceil() as u64).max(capacity as u64), 1))
        }
        Algorithm::FixedWindow { limit, window } | Algorithm::SlidingWindow { limit, window } => {
            Some((limit as u64, window.as_secs().max(1)))
        }
    }
}

impl<S, B> tower_layer::Layer<S> for InboundRateLimitLayer<B> {
    type Service = InboundRateLimit<S, B>;
    fn layer(&self, inner: S) -> Self::Service {
        InboundRateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`InboundRateLimitLayer`].
pub struct InboundRateLimit<S, B> {
    inner: S,
    layer: InboundRateLimitLayer<B>,
}

impl<S: Clone, B> Clone for InboundRateLimit<S, B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for InboundRateLimit<S, B>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let key = (self.layer.key)(&request);
        match self.layer.limiter.check(&key, Instant::now()) {
            Decision::Allow => Box::pin(self.inner.call(request)),
            Decision::Deny { retry_after } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                let mut response = Response::new(R::default());
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                let h = response.headers_mut();
                let num = |v: u64| {
                    HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static("1"))
                };
                h.insert(http::header::RETRY_AFTER, num(secs));
                if let Some((limit, _)) = limiter_algorithm(&self.layer.limiter) {
                    if let Ok(v) =
                        HeaderValue::from_str(&format!("limit={limit}, remaining=0, reset={secs}"))
                    {
                        h.insert("ratelimit", v);
                    }
                    if let Ok(v) = HeaderValue::from_str(&self.layer.policy) {
                        h.insert("ratelimit-policy", v);
                    }
                    h.insert("x-ratelimit-limit", num(limit));
                    h.insert("x-ratelimit-remaining", num(0));
                    h.insert("x-ratelimit-reset", num(secs));
                }
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::time::Duration;
    use tower_layer::Layer;
    use tower_service::Service;

    #[derive(Clone)]
    struct Ok200;
    impl Service<Request<()>> for Ok200 {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<String>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::new("ok".into())))
        }
    }

    #[tokio::test]
    async fn over_the_limit_answers_429_with_retry_after_and_ratelimit_fields() {
        let limiter = RateLimiter::in_memory(Algorithm::FixedWindow {
            limit: 2,
            window: Duration::from_secs(60),
        })
        .unwrap();
        let layer = InboundRateLimitLayer::new(limiter, |r: &Request<()>| {
            r.headers()
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("anonymous")
                .to_string()
        });
        let mut svc = layer.layer(Ok200);
        let req = |key: &str| {
            Request::builder()
                .header("x-api-key", key)
                .body(())
                .unwrap()
        };
        assert_eq!(svc.call(req("a")).await.unwrap().status(), 200);
        assert_eq!(svc.call(req("a")).await.unwrap().status(), 200);
        let refused = svc.call(req("a")).await.unwrap();
        assert_eq!(refused.status(), 429);
        let secs: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&secs));
        assert!(refused.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("limit=2, remaining=0"));
        assert_eq!(refused.headers()["ratelimit-policy"], "2;w=60");
        assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
        assert_eq!(
            svc.call(req("b")).await.unwrap().status(),
            200,
            "another client has its own limit"
        );
    }
}
