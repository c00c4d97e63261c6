//! The durable parts of the boundary behind traits: idempotency keys, the webhook inbox
//! and its dead letters, the outbound webhook outbox, and poll cursors.
//!
//! `sqlite::SqliteStore` (feature `sqlite`) implements all of them in one file (WAL,
//! `synchronous=FULL`: a delivery acknowledged is on disk). [`MemoryIdempotency`] is for
//! tests and single-process tools; `crate::store::redis::RedisIdempotency` (feature
//! `redis`) shares deduplication between instances.
//!
//! The traits are synchronous: SQLite and the Redis client block, and the async callers
//! (receivers, workers) run them on tokio's blocking pool. Times are Unix milliseconds
//! passed in by the caller, so tests choose the clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod headers;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// A store that could not answer.
#[derive(Debug, thiserror::Error)]
#[error("{store}: {message}")]
pub struct StoreError {
    /// Which store (`sqlite`, `redis`, `memory`).
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    /// An error of `store`.
    pub fn new(store: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            store,
            message: message.to_string(),
        }
    }
}

/// Now, in Unix milliseconds.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What [`IdempotencyStore::begin`] found for a delivery id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First time: the caller stores the delivery, then [`IdempotencyStore::commit`]s.
    New,
    /// Already stored with the same body: acknowledge, do nothing.
    Duplicate,
    /// Another request is storing it right now (or crashed doing so, until the lease
    /// ends): answer "try again later", never 2xx, so nothing is lost.
    InProgress,
    /// The id was seen with a different body: refuse.
    Conflict,
}

/// What an id already held says about a new claim at `now`: `None` when it has expired
/// (or was never held), so the claim is new. Shared by the stores, so they agree.
pub(crate) fn judge(
    held_digest: &[u8],
    committed: bool,
    expires_at: i64,
    digest: &[u8; 32],
    now: i64,
) -> Option<Claim> {
    if expires_at <= now {
        None
    } else if held_digest != digest.as_slice() {
        Some(Claim::Conflict)
    } else if committed {
        Some(Claim::Duplicate)
    } else {
        Some(Claim::InProgress)
    }
}

/// Deduplicates deliveries by id, remembering the digest of the body.
///
/// Two phases, so a crash between claiming an id and storing the delivery loses
/// nothing: `begin` leases the id (others see [`Claim::InProgress`] until the lease
/// ends), `commit` makes it a kept duplicate marker, `abort` releases it.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `id` (body digest `digest`) for `lease`, at `now` (Unix ms).
    fn begin(
        &self,
        id: &str,
        digest: &[u8; 32],
        lease: Duration,
        now: i64,
    ) -> Result<Claim, StoreError>;
    /// Marks `id` stored; it is remembered for `keep`.
    fn commit(
        &self,
        id: &str,
        digest: &[u8; 32],
        keep: Duration,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Releases a claim whose delivery was not stored.
    fn abort(&self, id: &str) -> Result<(), StoreError>;
}

/// (digest, committed, expires at in Unix ms)
type Entry = ([u8; 32], bool, i64);

/// An in-process [`IdempotencyStore`] (tests, one-process tools). Forgets on restart.
#[derive(Debug, Default)]
pub struct MemoryIdempotency {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryIdempotency {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl IdempotencyStore for MemoryIdempotency {
    fn begin(
        &self,
        id: &str,
        digest: &[u8; 32],
        lease: Duration,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| StoreError::new("memory", "poisoned"))?;
        if map.len() > 1024 {
            map.retain(|_, (_, _, exp)| *exp > now);
        }
        let judged = map
            .get(id)
            .and_then(|(d, committed, exp)| judge(d, *committed, *exp, digest, now));
        match judged {
            Some(claim) => Ok(claim),
            None => {
                map.insert(
                    id.to_owned(),
                    (*digest, false, now.saturating_add(ms(lease))),
                );
                Ok(Claim::New)
            }
        }
    }

    fn commit(
        &self,
        id: &str,
        digest: &[u8; 32],
        keep: Duration,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| StoreError::new("memory", "poisoned"))?;
        map.insert(id.to_owned(), (*digest, true, now.saturating_add(ms(keep))));
        Ok(())
    }

    fn abort(&self, id: &str) -> Result<(), StoreError> {
        let mut map = self
            .entries
            .lock()
            .map_err(|_| StoreError::new("memory", "poisoned"))?;
        if matches!(map.get(id), Some((_, false, _))) {
            map.remove(id);
        }
        Ok(())
    }
}

/// A delivery as received: the exact bytes and headers, nothing re-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The delivery id (deduplication key).
    pub id: String,
    /// Where it came from (the receiver's name), for operators.
    pub source: String,
    /// Every header, in order; values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The ordering key, when deliveries of one key must be processed in order.
    pub key: Option<String>,
    /// When it was received (Unix ms).
    pub received_at: i64,
}

/// A delivery claimed from the inbox for processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The stored delivery.
    pub delivery: NewDelivery,
    /// This is attempt number `attempt` (from 1).
    pub attempt: u32,
}

impl Delivery {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.delivery
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// A delivery that failed for good, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The stored delivery.
    pub delivery: NewDelivery,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// When it was dead-lettered (Unix ms).
    pub at: i64,
}

/// How many deliveries are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Waiting (including those waiting for a retry).
    pub pending: u64,
    /// Claimed by a worker.
    pub processing: u64,
    /// Processed.
    pub done: u64,
    /// In the dead-letter queue.
    pub dead: u64,
}

/// The durable inbox of received webhook deliveries, and its dead-letter queue.
pub trait InboxStore: Send + Sync {
    /// Stores a delivery (once: pushing an id again changes nothing). Durable on return.
    fn push(&self, delivery: &NewDelivery) -> Result<(), StoreError>;
    /// Claims the oldest due delivery for `lease` (pending and due, or processing with a
    /// lapsed lease: its worker died). With `in_order`, a delivery waits while an older
    /// one of the same key is not done.
    fn claim(
        &self,
        now: i64,
        lease: Duration,
        in_order: bool,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Marks a delivery processed.
    fn complete(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Puts a delivery back, due again at `at`.
    fn retry_at(&self, id: &str, at: i64, error: &str) -> Result<(), StoreError>;
    /// Moves a delivery to the dead-letter queue.
    fn dead_letter(&self, id: &str, error: &str, now: i64) -> Result<(), StoreError>;
    /// The dead letters, oldest first.
    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;
    /// A page of dead letters, oldest first: `limit` of them after the first `offset`
    /// (the operator console pages through thousands).
    fn dead_letters_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self
            .dead_letters(offset.saturating_add(limit))?
            .into_iter()
            .skip(offset)
            .collect())
    }
    /// Deletes a dead letter for good (an operator's decision); false if there is none.
    fn discard(&self, id: &str) -> Result<bool, StoreError> {
        let _ = id;
        Err(StoreError::new(
            "store",
            "this store cannot discard dead letters",
        ))
    }
    /// Puts a dead letter back in the inbox (attempts reset); false if there is none.
    fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Counts by state.
    fn counts(&self) -> Result<InboxCounts, StoreError>;
    /// Deduplicates and stores in one atomic step, when the inbox keeps delivery ids
    /// itself (one commit, one fsync, instead of three). `None`: not supported, use an
    /// [`IdempotencyStore`].
    fn push_unique(
        &self,
        delivery: &NewDelivery,
        digest: &[u8; 32],
        keep: Duration,
    ) -> Option<Result<Claim, StoreError>> {
        let _ = (delivery, digest, keep);
        None
    }

    /// Whether [`InboxStore::wait_for_work`] wakes on new work (a PostgreSQL `LISTEN`);
    /// when not, an idle worker sleeps instead (on tokio's timer, so tests with paused
    /// time still run).
    fn notifies(&self) -> bool {
        false
    }

    /// Blocks until new work may be there or `timeout` passes (called on the blocking
    /// pool, only when [`InboxStore::notifies`]).
    fn wait_for_work(&self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}

/// An inbox that deduplicates deliveries itself: its [`InboxStore::push_unique`]
/// answers (`Some`). What `webhook::Receiver::with_inbox_dedupe`
/// needs, so that an inbox without it is refused when the code is compiled rather than
/// at the first delivery.
pub trait DedupingInbox: InboxStore {}

/// Where an outbound message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// An attempt is under way.
    Sending,
    /// A 2xx was received.
    Delivered,
    /// The schedule ran out, or its endpoint was disabled.
    Failed,
}

impl MessageStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sending => "sending",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => MessageStatus::Pending,
            "sending" => MessageStatus::Sending,
            "delivered" => MessageStatus::Delivered,
            "failed" => MessageStatus::Failed,
            _ => return None,
        })
    }
}

/// A message to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The message id, sent as `webhook-id` on every attempt (receivers dedupe on it).
    pub id: String,
    /// The endpoint it goes to.
    pub endpoint: String,
    /// The event type (`invoice.paid`).
    pub event_type: String,
    /// The payload's version (`2024-06-01`, `v2`), sent as `webhook-version`.
    pub version: String,
    /// The exact body.
    pub payload: Vec<u8>,
    /// Created at (Unix ms).
    pub created_at: i64,
}

/// One delivery attempt, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Attempt number, from 1.
    pub n: u32,
    /// When it started (Unix ms).
    pub at: i64,
    /// The response status, when one came.
    pub status: Option<u16>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// A message and its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageState {
    /// The message.
    pub message: OutboundMessage,
    /// Where it stands.
    pub status: MessageStatus,
    /// Attempts made.
    pub attempts: Vec<AttemptRecord>,
    /// When the next attempt is due (Unix ms), while pending.
    pub next_at: Option<i64>,
}

/// A receiving endpoint of outbound webhooks. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint's name.
    pub id: String,
    /// Where to POST.
    pub url: String,
    /// The signing secret (`whsec_…` or `whsk_…`).
    pub secret: String,
    /// Disabled after continuous failure (or by hand).
    pub disabled: bool,
    /// Since when every attempt has failed (Unix ms), if it is failing.
    pub failing_since: Option<i64>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"***")
            .field("disabled", &self.disabled)
            .field("failing_since", &self.failing_since)
            .finish()
    }
}

/// The durable outbox of outbound webhook messages.
pub trait OutboxStore: Send + Sync {
    /// Adds or replaces an endpoint (keeps its failure state when it exists).
    fn upsert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// An endpoint by id.
    fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// Records an endpoint's attempt result: success clears `failing_since`, failure
    /// sets it if unset; returns the endpoint after the change.
    fn endpoint_result(&self, id: &str, ok: bool, now: i64)
        -> Result<Option<Endpoint>, StoreError>;
    /// Disables or enables an endpoint.
    fn set_endpoint_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError>;
    /// Adds a message, due now (again: nothing changes).
    fn enqueue(&self, message: &OutboundMessage, now: i64) -> Result<(), StoreError>;
    /// Claims up to `limit` due messages of enabled endpoints for `lease` (a message
    /// whose sender died while sending is due again when its lease lapses).
    fn claim(
        &self,
        now: i64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<(OutboundMessage, u32)>, StoreError>;
    /// Records an attempt and the message's new status (`next_at` when pending).
    fn record(
        &self,
        id: &str,
        attempt: &AttemptRecord,
        status: MessageStatus,
        next_at: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Fails every pending message of an endpoint (it was disabled; the endpoint's
    /// `disabled` flag says why).
    fn fail_endpoint_messages(&self, endpoint: &str) -> Result<u64, StoreError>;
    /// A message and its attempts.
    fn message(&self, id: &str) -> Result<Option<MessageState>, StoreError>;
    /// Sends a message again from the start of its schedule (manual replay).
    fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Counts by status.
    fn counts(&self) -> Result<HashMap<MessageStatus, u64>, StoreError>;
    /// Every endpoint, by id.
    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        Err(StoreError::new("store", "this store cannot list endpoints"))
    }
    /// A page of messages, newest first.
    fn messages_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        let _ = (offset, limit);
        Err(StoreError::new("store", "this store cannot list messages"))
    }
}

/// A message in a list: where it stands, without its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSummary {
    /// The message id.
    pub id: String,
    /// Its endpoint.
    pub endpoint: String,
    /// Its event type.
    pub event_type: String,
    /// Its status.
    pub status: MessageStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_at: Option<i64>,
    /// When it was created (Unix ms).
    pub created_at: i64,
}

/// A poller's saved position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CursorState {
    /// The API's cursor or `since` value after the last processed page.
    pub cursor: Option<String>,
    /// The last `ETag` seen.
    pub etag: Option<String>,
    /// The last `Last-Modified` seen.
    pub last_modified: Option<String>,
    /// Until when (Unix ms) the source has been covered without a gap.
    pub covered_until: Option<i64>,
}

/// Poll cursors, saved only after their page was processed.
pub trait CursorStore: Send + Sync {
    /// The saved state of poller `name`.
    fn load(&self, name: &str) -> Result<Option<CursorState>, StoreError>;
    /// Saves the state of poller `name`.
    fn save(&self, name: &str, state: &CursorState) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_idempotency_walks_the_two_phases() {
        let s = MemoryIdempotency::new();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let lease = Duration::from_secs(10);
        assert_eq!(s.begin("x", &a, lease, 0).unwrap(), Claim::New);
        assert_eq!(s.begin("x", &a, lease, 1).unwrap(), Claim::InProgress);
        assert_eq!(s.begin("x", &b, lease, 1).unwrap(), Claim::Conflict);
        // The lease lapses (the claimant crashed): claimable again.
        assert_eq!(s.begin("x", &a, lease, 10_001).unwrap(), Claim::New);
        s.commit("x", &a, Duration::from_secs(60), 10_002).unwrap();
        assert_eq!(s.begin("x", &a, lease, 20_000).unwrap(), Claim::Duplicate);
        assert_eq!(s.begin("x", &b, lease, 20_000).unwrap(), Claim::Conflict);
        // Kept for `keep`, then forgotten.
        assert_eq!(s.begin("x", &a, lease, 70_003).unwrap(), Claim::New);
        s.abort("x").unwrap();
        assert_eq!(s.begin("x", &a, lease, 70_004).unwrap(), Claim::New);
    }
}
