//! Sending webhooks at least once from a durable outbox.
//!
//! A message is stored before anything is sent ([`Sender::publish`]). Workers claim due
//! messages with a lease, sign them (Standard Webhooks: the same `webhook-id` on every
//! attempt, a fresh timestamp and signature per attempt), POST them with a per-attempt
//! timeout and record every attempt. A 2xx delivers; anything else schedules the next
//! attempt (the schedule, with jitter, or the receiver's `Retry-After` when later) until
//! the schedule ends (`failed`). A sender killed mid-delivery leaves the message
//! claimed; the lease lapses and another sender (or the restarted one) sends it again,
//! with the same id, so receivers can deduplicate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acl_signature::{Scheme, Signer};
use bytes::Bytes;

use super::destination::{self, Destinations};
use crate::store::{
    unix_ms, AttemptRecord, Endpoint, MessageStatus, OutboundMessage, OutboxStore, StoreError,
};
use crate::transport::Transport;

/// A payload type sent as a webhook: its event type and its version travel with it
/// (`webhook-version` header), so receivers can tell versions apart.
pub trait OutboundEvent: serde::Serialize {
    /// The event type (`invoice.paid`).
    const TYPE: &'static str;
    /// The payload's version (`2024-06-01`).
    const VERSION: &'static str;
}

/// Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub fn svix_schedule() -> Vec<Duration> {
    [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// Delivers outbox messages.
#[derive(Clone)]
pub struct Sender {
    store: Arc<dyn OutboxStore>,
    transport: Arc<dyn Transport>,
    schedule: Vec<Duration>,
    jitter: f64,
    timeout: Duration,
    lease: Duration,
    disable_after: Duration,
    max_retry_after: Duration,
    batch: usize,
    idle: Duration,
    destinations: Destinations,
}

/// At most this much of an endpoint's answer is read (then the connection is dropped):
/// only its status matters, and an endpoint must not be able to make the sender hold
/// a gigabyte.
pub const MAX_RESPONSE_BODY: u64 = 64 << 10;

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("schedule", &self.schedule)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What one pass of [`Sender::deliver_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Messages delivered.
    pub delivered: usize,
    /// Messages that failed an attempt and were rescheduled.
    pub rescheduled: usize,
    /// Messages whose schedule ran out (or whose endpoint was disabled).
    pub failed: usize,
}

impl Sender {
    /// A sender over `store`, sending through `transport`, with Svix's schedule,
    /// ±20% jitter, 15 s per attempt, endpoints disabled after 5 days of failure, public
    /// destinations only ([`Destinations`]).
    ///
    /// The transport must not follow redirects: a 307 would re-POST the signed body to
    /// wherever the endpoint points. [`Sender::http`] builds one that does not (and that
    /// checks every address it connects to); with another transport, a redirect it does
    /// not follow is a failed attempt with its status.
    pub fn new(store: Arc<dyn OutboxStore>, transport: Arc<dyn Transport>) -> Self {
        Self {
            store,
            transport,
            schedule: svix_schedule(),
            jitter: 0.2,
            timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            max_retry_after: Duration::from_secs(24 * 3600),
            batch: 32,
            idle: Duration::from_millis(200),
            destinations: Destinations::Public,
        }
    }

    /// A sender over HTTP with [`destination::transport`]:
    /// no redirects followed, every address connected to checked against `destinations`.
    pub fn http(
        store: Arc<dyn OutboxStore>,
        destinations: Destinations,
    ) -> Result<Self, crate::transport::TransportError> {
        let transport = destination::transport(destinations)?;
        Ok(Self::new(store, Arc::new(transport)).destinations(destinations))
    }

    /// Which addresses endpoints may resolve to (default: public ones only). Checked when
    /// an endpoint is registered (for IP literals) and before every attempt (after DNS
    /// resolution).
    pub fn destinations(mut self, destinations: Destinations) -> Self {
        self.destinations = destinations;
        self
    }

    /// The delay before each attempt (the first is usually zero); its length is the
    /// number of attempts.
    pub fn schedule(mut self, schedule: Vec<Duration>) -> Self {
        if !schedule.is_empty() {
            self.schedule = schedule;
        }
        self
    }

    /// Jitter as a fraction of each delay (0.2: ±20%).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// The time limit of one attempt; the claim lease is four times that.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.lease = timeout * 4;
        self
    }

    /// Disable an endpoint when every attempt has failed for this long.
    pub fn disable_after(mut self, period: Duration) -> Self {
        self.disable_after = period;
        self
    }

    /// How long to wait when nothing is due.
    pub fn idle_wait(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Registers (or updates) an endpoint. The URL must be `http` or `https` (and, by
    /// default, not a private address); the secret a usable Standard Webhooks key.
    pub fn endpoint(&self, id: &str, url: &str, secret: &str) -> Result<(), StoreError> {
        Signer::new(Scheme::Standard, secret)
            .map_err(|e| StoreError::new("sender", format!("endpoint `{id}`: {e}")))?;
        destination::check_url(url, self.destinations)
            .map_err(|e| StoreError::new("sender", format!("endpoint `{id}`: {e}")))?;
        self.store.upsert_endpoint(&Endpoint {
            id: id.into(),
            url: url.into(),
            secret: secret.into(),
            disabled: false,
            failing_since: None,
        })
    }

    /// Stores a typed event for `endpoint` under `id` (the receivers' deduplication
    /// key). Publishing the same id again does nothing.
    pub fn publish<E: OutboundEvent>(
        &self,
        endpoint: &str,
        id: &str,
        event: &E,
    ) -> Result<(), StoreError> {
        let payload = serde_json::to_vec(event)
            .map_err(|e| StoreError::new("sender", format!("{}: {e}", E::TYPE)))?;
        self.enqueue(&OutboundMessage {
            id: id.into(),
            endpoint: endpoint.into(),
            event_type: E::TYPE.into(),
            version: E::VERSION.into(),
            payload,
            created_at: unix_ms(),
        })
    }

    /// Stores a raw message. Its endpoint must be registered ([`Sender::endpoint`]): a
    /// message for an unknown endpoint would never be claimed.
    pub fn enqueue(&self, message: &OutboundMessage) -> Result<(), StoreError> {
        if self.store.endpoint(&message.endpoint)?.is_none() {
            return Err(StoreError::new(
                "sender",
                format!(
                    "no endpoint `{}`: register it with Sender::endpoint before publishing",
                    message.endpoint
                ),
            ));
        }
        self.store.enqueue(message, unix_ms())
    }

    /// Sends a delivered or failed message again, from the start of its schedule.
    pub fn replay(&self, id: &str) -> Result<bool, StoreError> {
        self.store.replay(id, unix_ms())
    }

    fn delay_after(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let planned = *self.schedule.get(attempt as usize)?;
        let spread = planned.as_secs_f64() * self.jitter;
        let jittered = planned.as_secs_f64() + spread * (2.0 * fastrand::f64() - 1.0);
        let mut delay = Duration::from_secs_f64(jittered.max(0.0));
        if let Some(ra) = retry_after {
            delay = delay.max(ra.min(self.max_retry_after));
        }
        Some(delay)
    }

    async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn OutboxStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| StoreError::new("outbox", e))?
    }

    /// One pass: claims the due messages and attempts each once.
    pub async fn deliver_due(&self) -> Result<Pass, StoreError> {
        let (lease, batch) = (self.lease, self.batch);
        let claimed = self
            .store(move |s| s.claim(unix_ms(), lease, batch))
            .await?;
        let mut pass = Pass::default();
        for (message, attempt) in claimed {
            match self.attempt(message, attempt).await? {
                MessageStatus::Delivered => pass.delivered += 1,
                MessageStatus::Pending => pass.rescheduled += 1,
                _ => pass.failed += 1,
            }
        }
        Ok(pass)
    }

    async fn attempt(&self, message: OutboundMessage, n: u32) -> Result<MessageStatus, StoreError> {
        let endpoint_id = message.endpoint.clone();
        // `claim` only returns messages of registered, enabled endpoints.
        let Some(endpoint) = self.store(move |s| s.endpoint(&endpoint_id)).await? else {
            return Err(StoreError::new(
                "sender",
                format!(
                    "claimed a message for unknown endpoint `{}`",
                    message.endpoint
                ),
            ));
        };
        let at = unix_ms();
        let started = Instant::now();
        let (status, error, retry_after) = match self.send(&endpoint, &message, at).await {
            Ok((status, retry_after)) => (Some(status), None, retry_after),
            Err(e) => (None, Some(e), None),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let error = error.or_else(|| {
            (!ok).then(|| match status.unwrap_or(0) {
                s @ 300..=399 => format!("HTTP {s} (redirects are not followed)"),
                s => format!("HTTP {s}"),
            })
        });
        let next = if ok {
            None
        } else {
            self.delay_after(n, retry_after)
        };
        let new_status = match (ok, next) {
            (true, _) => MessageStatus::Delivered,
            (false, Some(_)) => MessageStatus::Pending,
            (false, None) => MessageStatus::Failed,
        };
        let record = AttemptRecord {
            n,
            at,
            status,
            error,
            duration_ms: started.elapsed().as_millis() as i64,
        };
        let id = message.id.clone();
        let next_at = next.map(|d| unix_ms() + d.as_millis() as i64);
        self.store(move |s| s.record(&id, &record, new_status, next_at))
            .await?;
        metrics::counter!("acl_webhook_sent_total", "endpoint" => endpoint.id.clone(), "outcome" => new_status.as_str()).increment(1);
        // Endpoint health: disabled after `disable_after` of continuous failure.
        let (eid, now) = (endpoint.id.clone(), unix_ms());
        let after = self
            .store(move |s| s.endpoint_result(&eid, ok, now))
            .await?;
        if let Some(since) = after.and_then(|e| e.failing_since) {
            if now - since >= self.disable_after.as_millis() as i64 {
                let eid = endpoint.id.clone();
                tracing::warn!(endpoint = %eid, "webhook endpoint disabled after continuous failure");
                self.store(move |s| {
                    s.set_endpoint_disabled(&eid, true)?;
                    s.fail_endpoint_messages(&eid)
                })
                .await?;
                return Ok(MessageStatus::Failed);
            }
        }
        Ok(new_status)
    }

    async fn send(
        &self,
        endpoint: &Endpoint,
        message: &OutboundMessage,
        at_ms: i64,
    ) -> Result<(u16, Option<Duration>), String> {
        let signer = Signer::new(Scheme::Standard, &endpoint.secret).map_err(|e| e.to_string())?;
        let headers = signer
            .sign(&message.id, at_ms / 1000, &message.payload)
            .map_err(|e| e.to_string())?;
        // Checked again on every attempt: the URL may have been stored by an older
        // version, and what a name resolves to changes.
        let url = destination::check_url(&endpoint.url, self.destinations)?;
        destination::check_resolved(&url, self.destinations).await?;
        let mut request = http::Request::post(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-event-type", &message.event_type)
            .header("webhook-version", &message.version)
            .body(Bytes::from(message.payload.clone()))
            .map_err(|e| format!("bad request to {}: {e}", endpoint.url))?;
        request.headers_mut().extend(headers);
        let span = tracing::info_span!("acl.webhook.send", "acl.webhook.endpoint" = %endpoint.id);
        #[cfg(feature = "otel")]
        crate::otel::inject(&span, request.headers_mut());
        let exchange = async {
            let response = self.transport.send_streaming(request).await?;
            // Read a little of the answer (some servers reset a connection whose
            // response was not read), never all of it; only the status matters, so a
            // body that breaks off or runs long changes nothing.
            let (parts, body) = response.into_parts();
            let _ = crate::transport::collect_at_most(body, MAX_RESPONSE_BODY).await;
            Ok::<_, crate::transport::TransportError>(parts)
        };
        match tokio::time::timeout(
            self.timeout,
            tracing::Instrument::instrument(exchange, span),
        )
        .await
        {
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(parts)) => {
                let retry_after = parts
                    .headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        crate::resilience::classify::parse_retry_after(
                            v,
                            std::time::SystemTime::now(),
                        )
                    });
                Ok((parts.status.as_u16(), retry_after))
            }
        }
    }

    /// Delivers until `shutdown` completes.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let work = async {
            loop {
                match self.deliver_due().await {
                    Ok(p) if p != Pass::default() => {}
                    Ok(_) => tokio::time::sleep(self.idle).await,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox store failed");
                        tokio::time::sleep(self.idle).await;
                    }
                }
            }
        };
        super::inbox::until(work, shutdown).await
    }
}
