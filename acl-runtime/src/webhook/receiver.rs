//! Receiving deliveries: verify, deduplicate, store durably, acknowledge. Nothing is
//! processed here: processing happens later, from the inbox ([`super::InboxWorker`]).

use std::sync::Arc;
use std::time::Duration;

use acl_signature::{body_digest, Verifier, VerifyError};
use http::HeaderMap;

use crate::store::{
    unix_ms, Claim, DedupingInbox, IdempotencyStore, InboxStore, NewDelivery, StoreError,
};

/// Where a delivery's id (its deduplication key), or its ordering key, is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdSource {
    /// The id the signature scheme names (`webhook-id`, `X-GitHub-Delivery`, …).
    Scheme,
    /// A header.
    Header(String),
    /// A JSON pointer into the body (`/id` for Stripe events).
    Json(String),
}

/// What happened to an accepted delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Stored in the inbox for the first time.
    Accepted {
        /// The delivery id.
        id: String,
    },
    /// Seen before with the same body: acknowledged, not stored again.
    Duplicate {
        /// The delivery id.
        id: String,
    },
}

/// Why a delivery was not acknowledged. [`Rejection::status`] is the HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The signature, or its timestamp, does not verify.
    #[error("signature: {0}")]
    Signature(#[from] VerifyError),
    /// The body is larger than the receiver accepts.
    #[error("body of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No delivery id could be found.
    #[error("no delivery id: {0}")]
    NoId(String),
    /// The id was seen with a different body (a forgery or a sender bug).
    #[error("delivery `{id}` was already received with a different body")]
    Conflict {
        /// The delivery id.
        id: String,
    },
    /// Another request is storing this id right now: the sender should retry.
    #[error("delivery `{id}` is being stored by another request; retry later")]
    InProgress {
        /// The delivery id.
        id: String,
    },
    /// The store could not take it: the sender should retry (nothing was acknowledged).
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

impl Rejection {
    /// The HTTP status to answer: 401 bad signature, 400 no id, 409 conflicting body,
    /// 413 too large, 503 (retry later) while in progress or when the store is down.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Signature(_) => 401,
            Rejection::TooLarge { .. } => 413,
            Rejection::NoId(_) => 400,
            Rejection::Conflict { .. } => 409,
            Rejection::InProgress { .. } | Rejection::Store(_) => 503,
        }
    }

    /// What the sender is told. A refused signature says only "invalid signature": an
    /// unauthenticated caller learns nothing of the keys, versions or clock tolerance
    /// (the details go to the log and the `acl_webhook_received_total` metric); a store
    /// failure does not describe the store.
    pub fn public_message(&self) -> String {
        match self {
            Rejection::Signature(_) => "invalid signature".into(),
            Rejection::Store(_) => "temporarily unavailable; retry later".into(),
            other => other.to_string(),
        }
    }
}

/// Verifies, deduplicates and stores deliveries from one sender.
pub struct Receiver {
    name: String,
    verifier: Verifier,
    /// `None`: the inbox deduplicates itself ([`InboxStore::push_unique`]).
    idempotency: Option<Arc<dyn IdempotencyStore>>,
    inbox: Arc<dyn InboxStore>,
    id: IdSource,
    key: Option<IdSource>,
    keep: Duration,
    lease: Duration,
    max_body: usize,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("verifier", &self.verifier)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A receiver named `name` (metrics, the inbox's `source`), checking with
    /// `verifier`, deduplicating in `idempotency` and storing in `inbox`.
    ///
    /// Ids are kept for 24 h by default, and never for less than the verifier's
    /// timestamp tolerance (a replay older than that fails the timestamp check).
    pub fn new(
        name: impl Into<String>,
        verifier: Verifier,
        idempotency: Arc<dyn IdempotencyStore>,
        inbox: Arc<dyn InboxStore>,
    ) -> Self {
        Self::build(name.into(), verifier, Some(idempotency), inbox)
    }

    /// A receiver whose inbox also keeps the delivery ids, so that deduplicating and
    /// storing is one transaction (one fsync per acknowledgement with SQLite). For one
    /// instance, or several sharing one SQLite file; several instances with their own
    /// inboxes share ids through [`Receiver::new`] with a Redis store instead.
    /// The inbox must be a [`DedupingInbox`] (as [`SqliteStore`](crate::store::sqlite::SqliteStore)):
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use std::sync::Arc;
    /// use acl_runtime::store::sqlite::SqliteStore;
    /// use acl_runtime::webhook::{Receiver, Scheme, Verifier};
    ///
    /// let verifier = Verifier::new(Scheme::GitHub, ["It's a Secret to Everybody"]).unwrap();
    /// let inbox = Arc::new(SqliteStore::in_memory().unwrap());
    /// let receiver = Receiver::with_inbox_dedupe("github", verifier, inbox);
    /// # }
    /// ```
    ///
    /// An inbox that may not deduplicate is refused when compiled, not at the first
    /// delivery:
    ///
    /// ```compile_fail,E0277
    /// # use std::sync::Arc;
    /// # use acl_runtime::store::InboxStore;
    /// # use acl_runtime::webhook::{Receiver, Scheme, Verifier};
    /// fn receiver(inbox: Arc<dyn InboxStore>) -> Receiver {
    ///     let verifier = Verifier::new(Scheme::GitHub, ["It's a Secret to Everybody"]).unwrap();
    ///     Receiver::with_inbox_dedupe("github", verifier, inbox)
    /// }
    /// ```
    pub fn with_inbox_dedupe<I: DedupingInbox + 'static>(
        name: impl Into<String>,
        verifier: Verifier,
        inbox: Arc<I>,
    ) -> Self {
        Self::build(name.into(), verifier, None, inbox)
    }

    fn build(
        name: String,
        verifier: Verifier,
        idempotency: Option<Arc<dyn IdempotencyStore>>,
        inbox: Arc<dyn InboxStore>,
    ) -> Self {
        let id = if verifier.scheme().id_header().is_some() {
            IdSource::Scheme
        } else {
            IdSource::Json("/id".into())
        };
        Self {
            name,
            verifier,
            idempotency,
            inbox,
            id,
            key: None,
            keep: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(30),
            max_body: 8 << 20,
        }
    }

    /// Where the delivery id comes from (default: the scheme's id header, or `/id` in
    /// the body for schemes without one, as Stripe).
    pub fn id_from(mut self, source: IdSource) -> Self {
        self.id = source;
        self
    }

    /// Processes deliveries of one key (`/data/object/id`) in order: see
    /// [`super::InboxWorker::in_order`].
    pub fn order_key_from(mut self, source: IdSource) -> Self {
        self.key = Some(source);
        self
    }

    /// How long ids are remembered (at least the timestamp tolerance).
    pub fn keep_ids_for(mut self, keep: Duration) -> Self {
        self.keep = keep;
        self
    }

    /// How long a claimed id stays "being stored" if its request dies before storing
    /// it (default 30 s); retries of that id get 503 meanwhile.
    pub fn claim_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The largest body accepted (default 8 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The largest body accepted.
    pub fn body_limit(&self) -> usize {
        self.max_body
    }

    /// The receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn read(
        &self,
        source: &IdSource,
        headers: &HeaderMap,
        body: &[u8],
        scheme_id: Option<String>,
        json: &mut Option<Option<serde_json::Value>>,
    ) -> Result<String, String> {
        match source {
            IdSource::Scheme => {
                scheme_id.ok_or_else(|| "the signature scheme carries no id".to_string())
            }
            IdSource::Header(name) => headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| format!("header `{name}` is absent or not text")),
            IdSource::Json(pointer) => {
                let value = json.get_or_insert_with(|| serde_json::from_slice(body).ok());
                let Some(value) = value else {
                    return Err(format!(
                        "the body is not JSON, so `{pointer}` cannot be read"
                    ));
                };
                match value.pointer(pointer) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                    Some(_) => Err(format!("`{pointer}` in the body is not a string or number")),
                    None => Err(format!("the body has no `{pointer}`")),
                }
            }
        }
    }

    /// Verifies, deduplicates and stores one delivery (blocking: it writes to the
    /// stores; from async code use [`Receiver::receive_async`]). `Ok` means "answer 2xx":
    /// the delivery is durable.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Result<Receipt, Rejection> {
        // The delivery's own span: a child of the vendor's trace when it sends one
        // (feature `otel`), whose context is stored with the delivery for its processing.
        let span = tracing::info_span!("acl.webhook.receive", "acl.webhook.source" = %self.name);
        #[cfg(feature = "otel")]
        crate::otel::set_parent(&span, crate::otel::extract(headers));
        let _entered = span.enter();
        let result = self.receive_inner(headers, body);
        let outcome = match &result {
            Ok(Receipt::Accepted { .. }) => "accepted",
            Ok(Receipt::Duplicate { .. }) => "duplicate",
            Err(Rejection::Signature(_)) => "bad_signature",
            Err(Rejection::Conflict { .. }) => "conflict",
            Err(Rejection::InProgress { .. }) => "in_progress",
            Err(Rejection::Store(_)) => "store_error",
            Err(_) => "refused",
        };
        metrics::counter!("acl_webhook_received_total", "source" => self.name.clone(), "outcome" => outcome).increment(1);
        if let Err(e) = &result {
            tracing::warn!(source = %self.name, error = %e, "webhook delivery refused");
        }
        result
    }

    fn receive_inner(&self, headers: &HeaderMap, body: &[u8]) -> Result<Receipt, Rejection> {
        if body.len() > self.max_body {
            return Err(Rejection::TooLarge {
                size: body.len(),
                limit: self.max_body,
            });
        }
        let verified = self.verifier.verify(headers, body)?;
        let mut json = None;
        let id = self
            .read(&self.id, headers, body, verified.id.clone(), &mut json)
            .map_err(Rejection::NoId)?;
        let key = match &self.key {
            Some(source) => self
                .read(source, headers, body, verified.id, &mut json)
                .ok(),
            None => None,
        };
        let digest = body_digest(body);
        let now = unix_ms();
        let keep = self.keep.max(self.verifier.tolerance_window() * 2);
        let delivery = NewDelivery {
            id: id.clone(),
            source: self.name.clone(),
            headers: {
                #[allow(unused_mut)]
                // `acl-traceparent`/`acl-tracestate` are the receiver's own (the context
                // processing continues): a sender's copies are not kept, or it could
                // choose the trace its delivery is processed in.
                let mut stored: Vec<(String, Vec<u8>)> = headers
                    .iter()
                    .filter(|(n, _)| !n.as_str().starts_with("acl-trace"))
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect();
                #[cfg(feature = "otel")]
                stored.extend(crate::otel::stored_headers(&tracing::Span::current()));
                stored
            },
            body: body.to_vec(),
            key,
            received_at: now,
        };
        let Some(idempotency) = &self.idempotency else {
            let claim = self
                .inbox
                .push_unique(&delivery, &digest, keep)
                .unwrap_or_else(|| {
                    Err(StoreError::new(
                        "receiver",
                        "the inbox is a DedupingInbox but its push_unique answered None",
                    ))
                })?;
            return match claim {
                Claim::New => Ok(Receipt::Accepted { id }),
                Claim::Duplicate => Ok(Receipt::Duplicate { id }),
                Claim::Conflict => Err(Rejection::Conflict { id }),
                Claim::InProgress => Err(Rejection::InProgress { id }),
            };
        };
        match idempotency.begin(&id, &digest, self.lease, now)? {
            Claim::Duplicate => return Ok(Receipt::Duplicate { id }),
            Claim::Conflict => return Err(Rejection::Conflict { id }),
            Claim::InProgress => return Err(Rejection::InProgress { id }),
            Claim::New => {}
        }
        if let Err(e) = self.inbox.push(&delivery) {
            // Not acknowledged: free the id so the sender's retry is stored.
            let _ = idempotency.abort(&id);
            return Err(e.into());
        }
        // Stored. If this commit fails the claim lapses after its lease, and a retry is
        // pushed again, which the inbox ignores (ids are unique there too).
        let _ = idempotency.commit(&id, &digest, keep, now);
        Ok(Receipt::Accepted { id })
    }

    /// [`Receiver::receive`] on tokio's blocking pool.
    pub async fn receive_async(
        self: &Arc<Self>,
        headers: HeaderMap,
        body: bytes::Bytes,
    ) -> Result<Receipt, Rejection> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.receive(&headers, &body)).await {
            Ok(r) => r,
            Err(e) => Err(Rejection::Store(StoreError::new("receiver", e))),
        }
    }
}
