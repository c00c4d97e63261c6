//! The call pipeline every outbound call goes through:
//! rate limit → circuit breaker → retry (budgeted) → per-attempt timeout and overall
//! deadline → transport → classify → record.
//!
//! [`System`] holds what is shared by every operation on one external system (breaker,
//! retry budget, rate limiter); [`Operation`] holds one operation's timeout, deadline,
//! retry policy and idempotency. [`Operation::call`] runs a transport closure through
//! all of it. Time comes from tokio, so `tokio::time::pause` makes tests exact.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tracing::Instrument;

use crate::resilience::breaker::{CircuitBreaker, OpenError};
use crate::resilience::classify::{Classifier, FailureClass, Idempotency, Outcome, RateLimitHint};
use crate::resilience::clock::{instant_of, Tick};
use crate::resilience::rate_limit::{Decision, KeySlot, RateLimiter, Store};
use crate::resilience::retry::{RetryBudget, RetryPolicy, StopReason};

/// What is shared by every call to one external system.
#[derive(Debug)]
pub struct System {
    name: String,
    breaker: CircuitBreaker,
    budget: RetryBudget,
    background: Option<RetryBudget>,
    limiter: Option<Limiter>,
    limit_scope: LimitScope,
    bulkhead: Option<(Arc<tokio::sync::Semaphore>, Duration, usize)>,
    classifier: Classifier,
    clock: crate::resilience::clock::Clock,
    /// The tick before which the server asked for no more calls (its rate-limit headers
    /// said nothing is left until a reset); 0 when it did not.
    server_pause: AtomicU64,
    /// Calls under way (an operator's view).
    in_flight: AtomicU64,
    /// Times the outbound limit said wait, since start.
    limited: AtomicU64,
}

/// Whose retries an operation spends: the critical path's budget, or the background's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// On a request path: retries from the system's main budget.
    #[default]
    Critical,
    /// Background work (sync jobs, backfills): retries from the system's background
    /// budget, so they cannot use up what the critical path needs.
    Background,
}

impl System {
    /// A system with its breaker and retry budget; add a limiter with [`System::rate_limited`].
    pub fn new(name: impl Into<String>, breaker: CircuitBreaker, budget: RetryBudget) -> Self {
        let name = name.into();
        Self {
            breaker: breaker.observed_as(name.clone()),
            name,
            budget,
            background: None,
            limiter: None,
            limit_scope: LimitScope::System,
            bulkhead: None,
            classifier: Classifier::default(),
            clock: crate::resilience::clock::Clock::Tokio,
            server_pause: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            limited: AtomicU64::new(0),
        }
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls to this system under way now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Times the outbound limit (or the vendor's rate-limit headers) made a call wait
    /// or refused it, since start.
    pub fn rate_limited_count(&self) -> u64 {
        self.limited.load(Ordering::Relaxed)
    }

    /// The main retry budget: (retries made, retries allowed) over its window.
    pub fn retry_budget_usage(&self) -> (u64, u64) {
        self.budget.usage(std::time::Instant::now())
    }

    /// Notes what a response of this system said about its rate limit (`RateLimit`,
    /// `RateLimit-*`, `X-RateLimit-*`): with nothing left in its window, calls to the
    /// system hold back until the reset (clamped like `Retry-After`), waiting or failing
    /// fast as each operation's [`WhenLimited`] says, instead of running into the 429.
    /// Generated clients call it on every response; a hand-written transport can too.
    pub fn observe_rate_limit(&self, hint: &RateLimitHint) {
        let Some(wait) = hint.pause() else { return };
        let wait = wait.min(self.classifier.max_retry_after);
        if !wait.is_zero() {
            let until = self.clock.tick().saturating_add(wait.as_nanos() as u64);
            self.server_pause.fetch_max(until, Ordering::Relaxed);
        }
    }

    /// How long the server asked calls to hold back from `now`, if it did.
    #[inline]
    fn server_says_wait(&self, now: Tick) -> Option<Duration> {
        let until = self.server_pause.load(Ordering::Relaxed);
        (until > now).then(|| Duration::from_nanos(until - now))
    }

    /// Where calls to this system read the time (default [`Clock::Tokio`](crate::resilience::clock::Clock),
    /// which paused tests need; [`Clock::Tsc`](crate::resilience::clock::Clock) is cheaper).
    pub fn clock(mut self, clock: crate::resilience::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// A separate retry budget for [`Priority::Background`] operations. Without one,
    /// background operations do not retry at all: they must not spend the critical
    /// path's budget.
    pub fn background_budget(mut self, budget: RetryBudget) -> Self {
        self.background = Some(budget);
        self
    }

    fn budget_for(&self, priority: Priority) -> Option<&RetryBudget> {
        match priority {
            Priority::Critical => Some(&self.budget),
            Priority::Background => self.background.as_ref(),
        }
    }

    /// A bulkhead: at most `max_concurrent` calls to this system at once; a call waits
    /// at most `max_wait` (and never past its deadline) for a place.
    pub fn bulkhead(mut self, max_concurrent: usize, max_wait: Duration) -> Self {
        let size = max_concurrent.max(1);
        self.bulkhead = Some((Arc::new(tokio::sync::Semaphore::new(size)), max_wait, size));
        self
    }

    /// Which calls share the outbound limit (default: every call to the system, as a
    /// vendor counts them).
    pub fn limit_scope(mut self, scope: LimitScope) -> Self {
        self.limit_scope = scope;
        self
    }

    /// Limits outbound calls to this system (in memory: one process's calls).
    pub fn rate_limited(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(Limiter::Memory(limiter));
        self
    }

    /// Limits outbound calls with a shared store (Redis: every instance of the service
    /// counts against one limit). The store's round trip blocks, so each decision runs
    /// on tokio's blocking pool, never on the async worker threads.
    pub fn rate_limited_shared<S: Store + 'static>(mut self, limiter: RateLimiter<S>) -> Self {
        self.limiter = Some(Limiter::Shared(Arc::new(limiter)));
        self
    }

    /// The breaker, for its state.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

/// The outbound limiter of a system.
enum Limiter {
    Memory(RateLimiter),
    Shared(Arc<dyn Decide>),
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limiter::Memory(l) => l.fmt(f),
            Limiter::Shared(_) => f.write_str("SharedLimiter"),
        }
    }
}

/// A limiter over any store, as an object.
trait Decide: Send + Sync {
    fn decide(&self, key: &str, now: std::time::Instant) -> Decision;
}

impl<S: Store> Decide for RateLimiter<S> {
    fn decide(&self, key: &str, now: std::time::Instant) -> Decision {
        self.check(key, now)
    }
}

/// Which calls count against one outbound limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitScope {
    /// Every call to the system: the limit is the system's (its key is the system's name).
    #[default]
    System,
    /// Each operation on its own (its key is the operation's name), for vendors that
    /// limit per endpoint.
    Operation,
}

/// An operation's outbound limiter, resolved when the operation is built.
#[derive(Clone)]
enum OperationLimit {
    /// In memory: the key, bound once (no map lookup per call).
    Memory(KeySlot),
    /// A shared store, with the key: each decision runs on tokio's blocking pool.
    Shared(Arc<dyn Decide>, Arc<str>),
}

impl std::fmt::Debug for OperationLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OperationLimit::Memory(slot) => slot.fmt(f),
            OperationLimit::Shared(_, key) => write!(f, "SharedLimiter({key})"),
        }
    }
}

impl OperationLimit {
    fn of(limiter: &Limiter, key: &str) -> Self {
        match limiter {
            Limiter::Memory(l) => OperationLimit::Memory(l.slot(key)),
            Limiter::Shared(l) => OperationLimit::Shared(l.clone(), key.into()),
        }
    }

    /// A decision of a shared store (the in-memory one is answered in place, without an
    /// await on the happy path).
    async fn shared(l: &Arc<dyn Decide>, key: &str, now: Tick) -> Decision {
        let (l, key, now) = (l.clone(), key.to_string(), instant_of(now));
        // A failed blocking task (a panic in the store) allows the call, as an
        // unreachable store does: the breaker still guards the vendor.
        tokio::task::spawn_blocking(move || l.decide(&key, now))
            .await
            .unwrap_or(Decision::Allow)
    }
}

/// What to do when the rate limit says "not now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenLimited {
    /// Wait for the limiter, within the deadline.
    Wait,
    /// Fail at once.
    FailFast,
}

/// The metric keys of one operation, built once: recording a metric then allocates
/// nothing on the call path.
#[derive(Debug)]
struct Keys {
    ok: metrics::Key,
    circuit_open: metrics::Key,
    failed: [metrics::Key; 4],
    attempt_seconds: metrics::Key,
    retries: metrics::Key,
    rate_limited: metrics::Key,
    bulkhead_rejections: metrics::Key,
}

static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new("acl", metrics::Level::INFO, Some(module_path!()));

impl Keys {
    fn new(system: &str, operation: &str, http: Option<&HttpTarget>) -> Self {
        let labels = |extra: Option<&'static str>| {
            let mut l = vec![
                metrics::Label::new("acl.system", system.to_string()),
                metrics::Label::new("acl.operation", operation.to_string()),
            ];
            if let Some(h) = http {
                l.push(metrics::Label::new("http.request.method", h.method.clone()));
                l.push(metrics::Label::new("url.template", h.url_template.clone()));
            }
            if let Some(outcome) = extra {
                l.push(metrics::Label::new("outcome", outcome));
            }
            l
        };
        let key = |name: &'static str, extra| metrics::Key::from_parts(name, labels(extra));
        Self {
            ok: key("acl_calls_total", Some("ok")),
            circuit_open: key("acl_calls_total", Some("circuit_open")),
            failed: [
                FailureClass::Transient,
                FailureClass::Permanent,
                FailureClass::RateLimited { retry_after: None },
                FailureClass::InvalidData,
            ]
            .map(|class| key("acl_calls_total", Some(class.as_str()))),
            attempt_seconds: key("acl_attempt_seconds", None),
            retries: key("acl_retries_total", None),
            rate_limited: key("acl_rate_limited_total", None),
            bulkhead_rejections: key("acl_bulkhead_rejections_total", None),
        }
    }

    fn count(key: &metrics::Key) {
        metrics::with_recorder(|r| r.register_counter(key, &METADATA).increment(1));
    }

    fn failed(&self, class: FailureClass) -> &metrics::Key {
        &self.failed[match class {
            FailureClass::Transient => 0,
            FailureClass::Permanent => 1,
            FailureClass::RateLimited { .. } => 2,
            FailureClass::InvalidData => 3,
        }]
    }
}

/// What an operation calls over HTTP, for the OpenTelemetry attributes of its spans
/// and the labels of its metrics: never a filled URL (ids, query secrets), only the
/// contract's template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `GET`, `POST`, … (`http.request.method`).
    pub method: String,
    /// The contract's path template, `/pets/{petId}` (`url.template`).
    pub url_template: String,
    /// The server's host (`server.address`).
    pub server_address: String,
    /// The server's port, when the URL has one or its scheme implies one
    /// (`server.port`).
    pub server_port: Option<u16>,
}

/// One operation's policy.
#[derive(Debug, Clone)]
pub struct Operation {
    name: String,
    system: Arc<System>,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    idempotency: Idempotency,
    when_limited: WhenLimited,
    priority: Priority,
    keys: Arc<Keys>,
    /// The system's outbound limiter, with the operation's key bound.
    limit: Option<OperationLimit>,
    /// What it calls, when it is an HTTP call.
    http: Option<Arc<HttpTarget>>,
}

/// A failed attempt as the transport reports it.
#[derive(Debug)]
pub struct AttemptError<E> {
    /// What happened.
    pub outcome: Outcome,
    /// The raw `Retry-After` header, if the response had one.
    pub retry_after: Option<String>,
    /// The transport's own error or response.
    pub error: E,
}

/// Why a call failed, after the whole pipeline.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// The circuit is open: the call was not made.
    #[error("{operation}: {source}")]
    CircuitOpen {
        /// The operation.
        operation: String,
        /// How long until the breaker tries again.
        source: OpenError,
    },
    /// The outbound rate limit refused the call.
    #[error("{operation}: outbound rate limit reached; retry in {retry_after:?}")]
    RateLimited {
        /// The operation.
        operation: String,
        /// When a call would be allowed.
        retry_after: Duration,
    },
    /// The bulkhead was full for longer than the call could wait.
    #[error("{operation}: {max_concurrent} calls to this system are already in flight")]
    BulkheadFull {
        /// The operation.
        operation: String,
        /// The bulkhead's size.
        max_concurrent: usize,
    },
    /// The attempts failed; the last one's error is kept.
    #[error("{operation}: failed after {attempts} attempt(s) ({stopped:?}): {class:?} ({last_outcome:?})")]
    Failed {
        /// The operation.
        operation: String,
        /// How many attempts were made.
        attempts: u32,
        /// Why there was no further attempt.
        stopped: StopReason,
        /// The class of the last failure.
        class: FailureClass,
        /// What the last attempt ran into.
        last_outcome: Outcome,
        /// The last attempt's error (`None` when it timed out).
        last: Option<E>,
    },
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid operation setting `{0}`: {1}")]
pub struct InvalidOperation(pub &'static str, pub &'static str);

impl Operation {
    /// An operation of `system`: every attempt times out after `timeout`, the whole
    /// call (waits included) after `deadline`.
    pub fn new(
        name: impl Into<String>,
        system: Arc<System>,
        timeout: Duration,
        deadline: Duration,
        retry: RetryPolicy,
        idempotency: Idempotency,
    ) -> Result<Self, InvalidOperation> {
        if timeout.is_zero() {
            return Err(InvalidOperation(
                "timeout",
                "must be longer than zero: every outbound call needs one",
            ));
        }
        if deadline < timeout {
            return Err(InvalidOperation(
                "deadline",
                "must not be shorter than the timeout",
            ));
        }
        let name = name.into();
        let keys = Arc::new(Keys::new(&system.name, &name, None));
        let key = match system.limit_scope {
            LimitScope::System => system.name.as_str(),
            LimitScope::Operation => name.as_str(),
        };
        let limit = system.limiter.as_ref().map(|l| OperationLimit::of(l, key));
        Ok(Self {
            limit,
            keys,
            name,
            system,
            timeout,
            deadline,
            retry,
            idempotency,
            when_limited: WhenLimited::Wait,
            priority: Priority::Critical,
            http: None,
        })
    }

    /// The HTTP request the operation makes: its spans carry OpenTelemetry's HTTP client
    /// attributes and its metrics the method and template as labels.
    pub fn http(mut self, target: HttpTarget) -> Self {
        self.keys = Arc::new(Keys::new(&self.system.name, &self.name, Some(&target)));
        self.http = Some(Arc::new(target));
        self
    }

    /// The `acl.call` span of one call (what [`Operation::call`] runs in): a caller that
    /// learns more about the call (the response status) records it on this span and
    /// runs the call with [`Operation::call_in`].
    pub fn span(&self) -> tracing::Span {
        let e = tracing::field::Empty;
        let span = tracing::info_span!(
            "acl.call",
            "acl.system" = %self.system.name,
            "acl.operation" = %self.name,
            "http.request.method" = e,
            "url.template" = e,
            "server.address" = e,
            "server.port" = e,
            "http.response.status_code" = e,
            "http.request.resend_count" = e,
            "error.type" = e,
            "acl.breaker.state" = e,
        );
        if !span.is_disabled() {
            if let Some(h) = &self.http {
                span.record("http.request.method", h.method.as_str());
                span.record("url.template", h.url_template.as_str());
                span.record("server.address", h.server_address.as_str());
                if let Some(port) = h.server_port {
                    span.record("server.port", port);
                }
            }
            // Read only when someone listens: it takes the breaker's lock.
            span.record("acl.breaker.state", self.system.breaker.state().as_str());
        }
        span
    }

    /// Whose retry budget the operation spends (default: [`Priority::Critical`]).
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// The external system the operation belongs to.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// The operation's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same operation (same system, breaker, limiter and budget) with another
    /// per-attempt timeout (the deadline grows to at least it, so it is honoured) and,
    /// with `no_retry`, a single attempt. A zero timeout keeps the operation's.
    pub fn adjusted(&self, timeout: Option<Duration>, no_retry: bool) -> Operation {
        let mut op = self.clone();
        if let Some(t) = timeout.filter(|t| !t.is_zero()) {
            op.timeout = t;
            op.deadline = op.deadline.max(t);
        }
        if no_retry {
            op.retry = RetryPolicy::never();
        }
        op
    }

    /// What to do when the outbound rate limit says "not now" (default: wait).
    pub fn when_limited(mut self, w: WhenLimited) -> Self {
        self.when_limited = w;
        self
    }

    /// Runs `attempt` (called with the attempt number, from 1) through the pipeline.
    pub async fn call<T, E, F, Fut>(&self, attempt: F) -> Result<T, CallError<E>>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, AttemptError<E>>>,
    {
        self.call_in(self.span(), attempt).await
    }

    /// [`Operation::call`] inside `span` (from [`Operation::span`]).
    pub async fn call_in<T, E, F, Fut>(
        &self,
        span: tracing::Span,
        mut attempt: F,
    ) -> Result<T, CallError<E>>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, AttemptError<E>>>,
    {
        let sys = &*self.system;
        // The clock is read once before each attempt and once after it (a clock read
        // costs about as much as the rest of the happy path together).
        let started = sys.clock.tick();
        let since = |a: Tick, b: Tick| Duration::from_nanos(a.saturating_sub(b));
        // Counted in the inbound request's chain record, if there is one.
        let mark = crate::resilience::chain::start(&sys.name);
        let call_span = span.clone();
        let keys = &*self.keys;
        sys.in_flight.fetch_add(1, Ordering::Relaxed);
        /// Counts the call out however it ends (cancelled included).
        struct InFlight<'a>(&'a AtomicU64);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let _in_flight = InFlight(&sys.in_flight);
        let result = async {
            let mut now = started;
            // Bulkhead: a place for the whole call, retries included.
            let _place = match &sys.bulkhead {
                None => None,
                Some((semaphore, max_wait, size)) => {
                    let wait = (*max_wait).min(self.deadline);
                    match tokio::time::timeout(wait, semaphore.clone().acquire_owned()).await {
                        Ok(Ok(place)) => {
                            now = sys.clock.tick();
                            Some(place)
                        }
                        _ => {
                            Keys::count(&keys.bulkhead_rejections);
                            call_span.record("error.type", "bulkhead_full");
                            return Err(CallError::BulkheadFull {
                                operation: self.name.clone(),
                                max_concurrent: *size,
                            });
                        }
                    }
                }
            };
            // Only a retry needs randomness (jitter): seeded then, not on the happy path.
            let mut rng: Option<fastrand::Rng> = None;
            let mut previous_delay = Duration::ZERO;
            let budget = sys.budget_for(self.priority);
            if let Some(b) = budget {
                b.deposit_at(started);
            }
            let mut n = 0;
            loop {
                n += 1;
                // Outbound rate limit: the server's word first (its headers said nothing is
                // left until a reset), then the system's own limiter.
                loop {
                    let decision = match (sys.server_says_wait(now), &self.limit) {
                        (Some(wait), _) => Decision::Deny { retry_after: wait },
                        (None, None) => Decision::Allow,
                        (None, Some(OperationLimit::Memory(slot))) => slot.check_at(now),
                        (None, Some(OperationLimit::Shared(l, key))) => {
                            OperationLimit::shared(l, key, now).await
                        }
                    };
                    match decision {
                        Decision::Allow => break,
                        Decision::Deny { retry_after } => {
                            Keys::count(&keys.rate_limited);
                            sys.limited.fetch_add(1, Ordering::Relaxed);
                            let left = self.deadline.saturating_sub(since(now, started));
                            if self.when_limited == WhenLimited::FailFast || retry_after > left {
                                call_span.record("error.type", "rate_limited");
                                return Err(CallError::RateLimited {
                                    operation: self.name.clone(),
                                    retry_after,
                                });
                            }
                            tokio::time::sleep(retry_after).await;
                            now = sys.clock.tick();
                        }
                    }
                }
                // Circuit breaker.
                let permit = match sys.breaker.try_acquire_with(|| instant_of(now)) {
                    Ok(p) => p,
                    Err(source) => {
                        Keys::count(&keys.circuit_open);
                        call_span.record("error.type", "circuit_open");
                        return Err(CallError::CircuitOpen {
                            operation: self.name.clone(),
                            source,
                        });
                    }
                };
                // The attempt, bounded by its timeout and by what is left of the deadline.
                let left = self.deadline.saturating_sub(since(now, started));
                let e = tracing::field::Empty;
                let attempt_span = tracing::debug_span!(
                    "acl.attempt",
                    "acl.attempt" = n,
                    "http.request.resend_count" = n - 1,
                    "http.response.status_code" = e,
                    "error.type" = e,
                    "acl.retry.reason" = e,
                );
                let result = timeout_at_lazily(
                    now + self.timeout.min(left).as_nanos() as u64,
                    attempt(n).instrument(attempt_span.clone()),
                )
                .await;
                let end = sys.clock.tick();
                let took = since(end, now);
                // One recorder lookup for the latency and, on success, the outcome.
                let ok = matches!(result, Ok(Ok(_)));
                metrics::with_recorder(|r| {
                    r.register_histogram(&keys.attempt_seconds, &METADATA)
                        .record(took.as_secs_f64());
                    if ok {
                        r.register_counter(&keys.ok, &METADATA).increment(1);
                    }
                });
                let failure = match result {
                    Ok(Ok(value)) => {
                        permit.record_at(false, took, end);
                        if n > 1 {
                            call_span.record("http.request.resend_count", n - 1);
                        }
                        return Ok(value);
                    }
                    Ok(Err(e)) => e.into_parts(),
                    Err(_) => (Outcome::Timeout, None, None),
                };
                let (outcome, retry_after, error) = failure;
                let class =
                    sys.classifier
                        .classify(&outcome, retry_after.as_deref(), SystemTime::now());
                if !attempt_span.is_disabled() || !call_span.is_disabled() {
                    if let Outcome::Status(status) = outcome {
                        attempt_span.record("http.response.status_code", status);
                        call_span.record("http.response.status_code", status);
                    }
                    attempt_span.record("error.type", class.as_str());
                }
                // Only failures of the external system count against its breaker.
                permit.record_at(class == FailureClass::Transient, took, end);
                let elapsed = since(end, started);
                let stop = if !sys.classifier.may_retry(class, &outcome, self.idempotency) {
                    Some(StopReason::NotRetryable)
                } else {
                    let server = match class {
                        FailureClass::RateLimited { retry_after } => retry_after,
                        _ => None,
                    };
                    let rng = rng.get_or_insert_with(fastrand::Rng::new);
                    match self
                        .retry
                        .next_delay(n, elapsed, previous_delay, server, rng)
                    {
                        Err(reason) => Some(reason),
                        Ok(delay) if elapsed + delay >= self.deadline => {
                            Some(StopReason::MaxTotalTime)
                        }
                        Ok(delay) => {
                            if budget.is_some_and(|b| b.try_withdraw_at(end)) {
                                Keys::count(&keys.retries);
                                attempt_span.record("acl.retry.reason", retry_reason(&outcome));
                                tracing::debug!(attempt = n, ?class, ?delay, "retrying");
                                previous_delay = delay;
                                tokio::time::sleep(delay).await;
                                now = sys.clock.tick();
                                None
                            } else {
                                Some(StopReason::BudgetExhausted)
                            }
                        }
                    }
                };
                if let Some(stopped) = stop {
                    Keys::count(keys.failed(class));
                    call_span.record("error.type", class.as_str());
                    if n > 1 {
                        call_span.record("http.request.resend_count", n - 1);
                    }
                    tracing::warn!(attempts = n, ?class, ?stopped, "external call failed");
                    return Err(CallError::Failed {
                        operation: self.name.clone(),
                        attempts: n,
                        stopped,
                        class,
                        last_outcome: outcome,
                        last: error,
                    });
                }
            }
        }
        .instrument(span)
        .await;
        mark.finish(|| since(sys.clock.tick(), started));
        result
    }
}

/// Why an attempt is repeated (`acl.retry.reason`): a few fixed words, never a message.
fn retry_reason(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Timeout => "timeout",
        Outcome::ConnectFailed => "connect_failed",
        Outcome::ConnectionReset => "connection_reset",
        Outcome::Status(429) => "rate_limited",
        Outcome::Status(s) if *s >= 500 => "server_error",
        Outcome::Status(_) => "status",
        Outcome::InvalidData => "invalid_data",
    }
}

/// `tokio::time::timeout_at`, except that the timer is only created when the attempt
/// is not ready on its first poll: an answer already there (a cache, an in-memory
/// transport) costs no timer registration. Measured in `benches/overhead`.
async fn timeout_at_lazily<F: Future>(until: Tick, fut: F) -> Result<F::Output, ()> {
    use std::task::Poll;
    let mut fut = std::pin::pin!(fut);
    let mut sleep = std::pin::pin!(None::<tokio::time::Sleep>);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if sleep.is_none() {
            let until = tokio::time::Instant::from_std(instant_of(until));
            sleep.set(Some(tokio::time::sleep_until(until)));
        }
        match sleep.as_mut().as_pin_mut() {
            Some(s) => s.poll(cx).map(|()| Err(())),
            None => Poll::Pending,
        }
    })
    .await
}

impl<E> AttemptError<E> {
    fn into_parts(self) -> (Outcome, Option<String>, Option<E>) {
        (self.outcome, self.retry_after, Some(self.error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::breaker::{BreakerConfig, State, Window};
    use crate::resilience::rate_limit::Algorithm;
    use crate::resilience::retry::{Backoff, Jitter};
    use std::sync::atomic::{AtomicU32, Ordering};

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    fn system(consecutive: u32) -> Arc<System> {
        let breaker = CircuitBreaker::new(BreakerConfig {
            window: Window::Calls(10),
            min_calls: 10,
            consecutive_failures: Some(consecutive),
            open_for: 30 * S,
            half_open_calls: 1,
            ..BreakerConfig::default()
        })
        .unwrap();
        Arc::new(System::new(
            "vendor",
            breaker,
            RetryBudget::new(10 * S, 10.0, 10).unwrap(),
        ))
    }

    fn op(system: Arc<System>, method: &str, key: bool) -> Operation {
        let backoff = Backoff::exponential(100 * MS, 2 * S)
            .unwrap()
            .with_jitter(Jitter::None);
        Operation::new(
            "op",
            system,
            S,
            10 * S,
            RetryPolicy::new(3, 10 * S, backoff).unwrap(),
            Idempotency::of(method, key),
        )
        .unwrap()
    }

    fn fail<T>(status: u16) -> Result<T, AttemptError<&'static str>> {
        Err(AttemptError {
            outcome: Outcome::Status(status),
            retry_after: None,
            error: "boom",
        })
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_with_backoff() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let r = op(system(100), "GET", false)
            .call(|n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        fail(503)
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), 300 * MS, "100 ms then 200 ms of backoff");
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_run_out_and_the_error_says_so() {
        let r = op(system(100), "GET", false)
            .call(|_| async { fail::<()>(500) })
            .await;
        match r {
            Err(CallError::Failed {
                attempts,
                stopped,
                class,
                last,
                ..
            }) => {
                assert_eq!(
                    (attempts, stopped, class, last),
                    (
                        3,
                        StopReason::MaxAttempts,
                        FailureClass::Transient,
                        Some("boom")
                    )
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_post_without_a_key_is_not_retried_but_one_with_a_key_is() {
        let calls = AtomicU32::new(0);
        let r = op(system(100), "POST", false)
            .call(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { fail::<()>(503) }
            })
            .await;
        assert!(matches!(
            r,
            Err(CallError::Failed {
                attempts: 1,
                stopped: StopReason::NotRetryable,
                ..
            })
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let r = op(system(100), "POST", true)
            .call(|_| async { fail::<()>(503) })
            .await;
        assert!(matches!(r, Err(CallError::Failed { attempts: 3, .. })));
        // A refused connection never left: even a POST without a key may go again.
        let r = op(system(100), "POST", false)
            .call(|n| async move {
                if n == 1 {
                    Err(AttemptError {
                        outcome: Outcome::ConnectFailed,
                        retry_after: None,
                        error: "refused",
                    })
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(r.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_fail_fast() {
        let r = op(system(100), "GET", false)
            .call(|_| async { fail::<()>(404) })
            .await;
        assert!(matches!(
            r,
            Err(CallError::Failed {
                attempts: 1,
                class: FailureClass::Permanent,
                ..
            })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let start = tokio::time::Instant::now();
        let r = op(system(100), "GET", false)
            .call(|n| async move {
                if n == 1 {
                    Err(AttemptError {
                        outcome: Outcome::Status(429),
                        retry_after: Some("2".into()),
                        error: "slow down",
                    })
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(r.is_ok());
        assert_eq!(start.elapsed(), 2 * S);
    }

    #[tokio::test(start_paused = true)]
    async fn no_call_outlives_its_deadline() {
        let start = tokio::time::Instant::now();
        let r = op(system(100), "GET", false)
            .call(|_| async {
                tokio::time::sleep(60 * S).await;
                Ok::<_, AttemptError<()>>(())
            })
            .await;
        assert!(
            matches!(
                r,
                Err(CallError::Failed {
                    last_outcome: Outcome::Timeout,
                    attempts: 3,
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(
            start.elapsed(),
            3 * S + 300 * MS,
            "three 1 s timeouts and 300 ms of backoff"
        );
        assert!(start.elapsed() <= 10 * S);
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_and_later_calls_fail_fast() {
        let sys = system(3);
        let o = op(sys.clone(), "GET", false);
        let _ = o.call(|_| async { fail::<()>(500) }).await;
        assert_eq!(sys.breaker().state(), State::Open);
        let calls = AtomicU32::new(0);
        let r = o
            .call(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, AttemptError<()>>(()) }
            })
            .await;
        match r {
            Err(CallError::CircuitOpen { source, .. }) => assert_eq!(source.retry_in, 30 * S),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "fail fast: the transport was not called"
        );
        tokio::time::advance(30 * S).await;
        assert!(o
            .call(|_| async { Ok::<_, AttemptError<()>>(()) })
            .await
            .is_ok());
        assert_eq!(sys.breaker().state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_budget_stops_retries() {
        let breaker = CircuitBreaker::new(BreakerConfig::default()).unwrap();
        let sys = Arc::new(System::new(
            "vendor",
            breaker,
            RetryBudget::new(10 * S, 0.5, 0).unwrap(),
        ));
        let o = op(sys, "GET", false);
        // One call deposits one; half a retry is not a retry.
        let r = o.call(|_| async { fail::<()>(503) }).await;
        assert!(
            matches!(
                r,
                Err(CallError::Failed {
                    attempts: 1,
                    stopped: StopReason::BudgetExhausted,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn background_retries_cannot_starve_the_critical_path() {
        let breaker = CircuitBreaker::new(BreakerConfig {
            min_calls: 10_000,
            ..BreakerConfig::default()
        })
        .unwrap();
        // Critical: 10% of calls. Background: its own 20%, so ten failing calls get two.
        let sys = Arc::new(
            System::new("vendor", breaker, RetryBudget::new(10 * S, 0.1, 0).unwrap())
                .background_budget(RetryBudget::new(10 * S, 0.2, 0).unwrap()),
        );
        let critical = op(sys.clone(), "GET", false);
        let background = op(sys.clone(), "GET", false).priority(Priority::Background);
        // Twenty critical calls that succeed put two retries into the critical budget.
        for _ in 0..20 {
            critical
                .call(|_| async { Ok::<_, AttemptError<()>>(()) })
                .await
                .unwrap();
        }
        // A storm of failing background calls spends only the background budget.
        let mut background_retries = 0;
        for _ in 0..10 {
            if let Err(CallError::Failed { attempts, .. }) =
                background.call(|_| async { fail::<()>(503) }).await
            {
                background_retries += attempts - 1;
            }
        }
        assert_eq!(
            background_retries, 2,
            "the background budget allowed exactly its own"
        );
        // The critical path still has its retries.
        let n = std::sync::atomic::AtomicU32::new(0);
        let r = critical
            .call(|_| {
                let first = n.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        fail::<()>(503)
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
        assert!(r.is_ok(), "{r:?}");
        // Without a background budget, background operations never retry.
        let plain = Arc::new(System::new(
            "other",
            CircuitBreaker::new(BreakerConfig::default()).unwrap(),
            RetryBudget::new(10 * S, 1.0, 100).unwrap(),
        ));
        let bg = op(plain, "GET", false).priority(Priority::Background);
        let r = bg.call(|_| async { fail::<()>(503) }).await;
        assert!(
            matches!(
                r,
                Err(CallError::Failed {
                    attempts: 1,
                    stopped: StopReason::BudgetExhausted,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_outbound_rate_limit_waits_or_fails_fast() {
        let breaker = CircuitBreaker::new(BreakerConfig::default()).unwrap();
        let limiter = RateLimiter::in_memory(Algorithm::TokenBucket {
            rate: 2.0,
            burst: 1,
        })
        .unwrap();
        let sys = Arc::new(
            System::new("vendor", breaker, RetryBudget::new(10 * S, 0.2, 1).unwrap())
                .rate_limited(limiter),
        );
        let o = op(sys, "GET", false);
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            o.call(|_| async { Ok::<_, AttemptError<()>>(()) })
                .await
                .unwrap();
        }
        // 2 per second: the 2nd and 3rd wait 500 ms each (tokio's timer rounds up to 1 ms).
        assert!(
            start.elapsed() >= S && start.elapsed() <= S + 5 * MS,
            "{:?}",
            start.elapsed()
        );
        let r = o
            .clone()
            .when_limited(WhenLimited::FailFast)
            .call(|_| async { Ok::<_, AttemptError<()>>(()) })
            .await;
        assert!(matches!(r, Err(CallError::RateLimited { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn operations_share_the_system_limit_unless_scoped_per_operation() {
        let two_per_second = || {
            RateLimiter::in_memory(Algorithm::TokenBucket {
                rate: 2.0,
                burst: 1,
            })
            .unwrap()
        };
        let named = |sys: &Arc<System>, name: &str| {
            Operation::new(
                name,
                sys.clone(),
                S,
                10 * S,
                RetryPolicy::new(1, 10 * S, Backoff::fixed(MS)).unwrap(),
                Idempotency::Idempotent,
            )
            .unwrap()
            .when_limited(WhenLimited::FailFast)
        };
        let ok = || async { Ok::<_, AttemptError<()>>(()) };
        let limited =
            |r: &Result<(), CallError<()>>| matches!(r, Err(CallError::RateLimited { .. }));
        for (scope, second_refused) in [(LimitScope::System, true), (LimitScope::Operation, false)]
        {
            let breaker = CircuitBreaker::new(BreakerConfig::default()).unwrap();
            let sys = Arc::new(
                System::new("vendor", breaker, RetryBudget::new(10 * S, 0.2, 1).unwrap())
                    .rate_limited(two_per_second())
                    .limit_scope(scope),
            );
            let (a, b) = (named(&sys, "a"), named(&sys, "b"));
            assert!(a.call(|_| ok()).await.is_ok());
            assert_eq!(
                limited(&b.call(|_| ok()).await),
                second_refused,
                "{scope:?}"
            );
            assert!(
                limited(&a.call(|_| ok()).await),
                "{scope:?}: a's own burst is spent"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_saying_nothing_is_left_holds_calls_back_until_its_reset() {
        let sys = system(100);
        let o = op(sys.clone(), "GET", false);
        let hint = |remaining: u64, reset: u64| RateLimitHint {
            remaining: Some(remaining),
            reset: Some(Duration::from_secs(reset)),
            ..RateLimitHint::default()
        };
        // Something left: no pause.
        sys.observe_rate_limit(&hint(3, 30));
        let start = tokio::time::Instant::now();
        o.call(|_| async { Ok::<_, AttemptError<()>>(()) })
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Nothing left for 2 s: failing fast says how long, waiting waits exactly that.
        sys.observe_rate_limit(&hint(0, 2));
        let r = o
            .clone()
            .when_limited(WhenLimited::FailFast)
            .call(|_| async { Ok::<_, AttemptError<()>>(()) })
            .await;
        assert!(
            matches!(r, Err(CallError::RateLimited { retry_after, .. }) if retry_after == 2 * S),
            "{r:?}"
        );
        let calls = AtomicU32::new(0);
        o.call(|_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, AttemptError<()>>(())
        })
        .await
        .unwrap();
        assert_eq!(start.elapsed(), 2 * S);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A reset past the deadline (10 s) fails at once instead of waiting in vain; a
        // server asking for an hour is clamped like Retry-After (60 s).
        sys.observe_rate_limit(&hint(0, 3600));
        let r = o.call(|_| async { Ok::<_, AttemptError<()>>(()) }).await;
        assert!(
            matches!(r, Err(CallError::RateLimited { retry_after, .. }) if retry_after == 60 * S),
            "{r:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_bulkhead_bounds_concurrent_calls() {
        let breaker = CircuitBreaker::new(BreakerConfig::default()).unwrap();
        let sys = Arc::new(
            System::new("vendor", breaker, RetryBudget::new(10 * S, 0.2, 1).unwrap())
                .bulkhead(2, 100 * MS),
        );
        let o = Arc::new(op(sys, "GET", false));
        let in_flight = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (o, in_flight, peak) = (o.clone(), in_flight.clone(), peak.clone());
            tasks.push(async move {
                o.call(|_| {
                    let (in_flight, peak) = (in_flight.clone(), peak.clone());
                    async move {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(500 * MS).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, AttemptError<()>>(())
                    }
                })
                .await
            });
        }
        let results = futures_join(tasks).await;
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        let full = results
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Err(CallError::BulkheadFull {
                        max_concurrent: 2,
                        ..
                    })
                )
            })
            .count();
        assert_eq!(
            (results.len() - full, full),
            (2, 3),
            "two ran; three waited 100 ms and gave up"
        );
    }

    /// Runs futures concurrently on the current task (no extra dependency for `join_all`).
    async fn futures_join<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
        let handles: Vec<_> = futures.into_iter().map(|f| Box::pin(f)).collect();
        let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
        let mut out: Vec<Option<F::Output>> = (0..handles.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, h) in handles.iter_mut().enumerate() {
                if let Some(f) = h {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => {
                            out[i] = Some(v);
                            *h = None;
                        }
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter().map(|o| o.unwrap()).collect()
    }

    #[test]
    fn an_operation_without_a_timeout_is_refused() {
        let e = Operation::new(
            "op",
            system(3),
            Duration::ZERO,
            S,
            RetryPolicy::never(),
            Idempotency::Idempotent,
        )
        .unwrap_err();
        assert_eq!(e.0, "timeout");
    }

    /// A recorder that keeps every counter, gauge and histogram count by
    /// `name{label=value,...}`.
    #[derive(Default)]
    struct Recorded(std::sync::Mutex<std::collections::BTreeMap<String, f64>>);

    struct Handle(Arc<Recorded>, String);

    impl Handle {
        fn update(&self, f: impl FnOnce(&mut f64)) {
            f(self.0 .0.lock().unwrap().entry(self.1.clone()).or_default())
        }
    }
    impl metrics::CounterFn for Handle {
        fn increment(&self, v: u64) {
            self.update(|x| *x += v as f64)
        }
        fn absolute(&self, v: u64) {
            self.update(|x| *x = v as f64)
        }
    }
    impl metrics::GaugeFn for Handle {
        fn increment(&self, v: f64) {
            self.update(|x| *x += v)
        }
        fn decrement(&self, v: f64) {
            self.update(|x| *x -= v)
        }
        fn set(&self, v: f64) {
            self.update(|x| *x = v)
        }
    }
    impl metrics::HistogramFn for Handle {
        fn record(&self, _: f64) {
            self.update(|x| *x += 1.0)
        }
    }

    struct TestRecorder(Arc<Recorded>);

    impl TestRecorder {
        fn handle(&self, key: &metrics::Key) -> Arc<Handle> {
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            Arc::new(Handle(
                self.0.clone(),
                format!("{}{{{}}}", key.name(), labels.join(",")),
            ))
        }
        fn get(&self, name: &str) -> f64 {
            self.0 .0.lock().unwrap().get(name).copied().unwrap_or(0.0)
        }
    }

    impl metrics::Recorder for TestRecorder {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            metrics::Counter::from_arc(self.handle(key))
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::from_arc(self.handle(key))
        }
        fn register_histogram(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::from_arc(self.handle(key))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_call_attempt_retry_and_transition_is_measured() {
        let recorder = TestRecorder(Arc::default());
        let _guard = metrics::set_default_local_recorder(&recorder);
        let sys = system(3);
        let o = op(sys.clone(), "GET", false);
        o.call(|_| async { Ok::<_, AttemptError<()>>(()) })
            .await
            .unwrap();
        let labels = "acl.operation=op,acl.system=vendor";
        assert_eq!(
            recorder.get("acl_calls_total{acl.operation=op,acl.system=vendor,outcome=ok}"),
            1.0
        );
        assert_eq!(
            recorder.get(&format!("acl_attempt_seconds{{{labels}}}")),
            1.0
        );
        // Three attempts fail: two retries, then the breaker opens (three in a row).
        let _ = o.call(|_| async { fail::<()>(503) }).await;
        assert_eq!(recorder.get(&format!("acl_retries_total{{{labels}}}")), 2.0);
        assert_eq!(
            recorder.get(&format!("acl_attempt_seconds{{{labels}}}")),
            4.0
        );
        assert_eq!(
            recorder.get("acl_calls_total{acl.operation=op,acl.system=vendor,outcome=transient}"),
            1.0
        );
        assert_eq!(
            recorder.get("acl_breaker_state{acl.system=vendor}"),
            2.0,
            "open"
        );
        assert_eq!(
            recorder.get("acl_breaker_transitions_total{acl.system=vendor,from=closed,to=open}"),
            1.0
        );
        let _ = o.call(|_| async { Ok::<_, AttemptError<()>>(()) }).await;
        assert_eq!(
            recorder
                .get("acl_calls_total{acl.operation=op,acl.system=vendor,outcome=circuit_open}"),
            1.0
        );
        tokio::time::advance(30 * S).await;
        o.call(|_| async { Ok::<_, AttemptError<()>>(()) })
            .await
            .unwrap();
        assert_eq!(
            recorder.get("acl_breaker_state{acl.system=vendor}"),
            0.0,
            "closed again"
        );
        assert_eq!(
            recorder
                .get("acl_breaker_transitions_total{acl.system=vendor,from=half_open,to=closed}"),
            1.0
        );
    }
}
