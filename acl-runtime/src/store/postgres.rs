//! Every durable part in one PostgreSQL database (feature `postgres`), shared by many
//! receiver and worker processes: idempotency keys, the inbox and its DLQ, the outbox,
//! poll cursors. The same semantics as [`SqliteStore`](super::sqlite::SqliteStore), with
//! what one machine could not give:
//!
//! - claims take `SELECT … FOR UPDATE SKIP LOCKED`: two workers never get the same
//!   delivery, and a worker that dies leaves a lease that lapses (or, inside
//!   [`PostgresStore::process_next_in_transaction`], a transaction the server rolls back),
//!   so its delivery returns to the queue; per-key order holds across workers;
//! - a pushed delivery `NOTIFY`s `acl_inbox` in its own transaction, and idle workers
//!   wait on `LISTEN` ([`InboxStore::wait_for_work`]) with a slow poll as a fallback;
//! - the schema is created by versioned migrations, applied on connect under an advisory
//!   lock (two instances starting at once apply them once);
//! - connections come from a bounded pool; when none can be had within
//!   [`PostgresStoreBuilder::checkout_timeout`] the call fails with a [`StoreError`], and
//!   the webhook receiver answers 503 with `Retry-After`: the vendor retries, nothing is
//!   acknowledged that was not stored.
//!
//! The driver is the `postgres` crate (the blocking face of `tokio-postgres`, by the
//! same authors): the store traits are synchronous and the runtime calls them on tokio's
//! blocking pool (see ARCHITECTURE.md), so a blocking client fits them without a second
//! set of traits. The pool is written here (a `Mutex` of idle connections, a `Condvar`,
//! a size bound and a checkout timeout, broken connections dropped): what r2d2 would
//! give, without its background threads and its two extra crates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, NoTls, Row, Transaction};

use super::headers::{decode_headers, encode_headers};
use super::{
    AttemptRecord, Claim, CursorState, CursorStore, DeadLetter, Delivery, Endpoint,
    IdempotencyStore, InboxCounts, InboxStore, MessageState, MessageStatus, MessageSummary,
    NewDelivery, OutboundMessage, OutboxStore, StoreError,
};

/// The migrations, in order; each runs once per schema, in one transaction, recorded in
/// `acl_schema_version`. Append, never edit.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE acl_idempotency (
  id TEXT PRIMARY KEY, digest BYTEA NOT NULL, committed BOOLEAN NOT NULL, expires_at BIGINT NOT NULL
);
CREATE INDEX acl_idempotency_expires ON acl_idempotency(expires_at);
CREATE TABLE acl_inbox (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, headers BYTEA NOT NULL, body BYTEA NOT NULL,
  key TEXT, received_at BIGINT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL,
  lease_until BIGINT, last_error TEXT, finished_at BIGINT
);
CREATE INDEX acl_inbox_due ON acl_inbox(status, next_at);
CREATE INDEX acl_inbox_key ON acl_inbox(key, seq);
CREATE TABLE acl_endpoints (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL,
  disabled BOOLEAN NOT NULL DEFAULT FALSE, failing_since BIGINT
);
CREATE TABLE acl_outbox (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE, endpoint TEXT NOT NULL, event_type TEXT NOT NULL, version TEXT NOT NULL,
  payload BYTEA NOT NULL, created_at BIGINT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT, lease_until BIGINT
);
CREATE INDEX acl_outbox_due ON acl_outbox(status, next_at);
CREATE TABLE acl_outbox_attempts (
  message_id TEXT NOT NULL, n INTEGER NOT NULL, at BIGINT NOT NULL, status_code INTEGER,
  error TEXT, duration_ms BIGINT NOT NULL, PRIMARY KEY (message_id, n)
);
CREATE TABLE acl_cursors (
  name TEXT PRIMARY KEY, cursor TEXT, etag TEXT, last_modified TEXT, covered_until BIGINT
);
"#];

/// The channel a pushed delivery is announced on.
const CHANNEL: &str = "acl_inbox";

/// The advisory lock key under which migrations run (any constant; "acl" in ASCII).
const MIGRATION_LOCK: i64 = 0x0061_636c;

/// How often (in new ids and deliveries) expired ids and old processed deliveries are
/// deleted, as in the SQLite store.
const SWEEP_EVERY: u64 = 256;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new("postgres", e)
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// How to reach the database and how many connections to hold.
#[derive(Debug, Clone)]
pub struct PostgresStoreBuilder {
    url: String,
    schema: Option<String>,
    pool_size: usize,
    checkout_timeout: Duration,
    retain_processed: Duration,
}

impl PostgresStoreBuilder {
    /// The schema the tables live in (created when missing; default: the connection's
    /// `search_path`, usually `public`). Letters, digits and `_` only.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// At most this many connections (default 8).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// How long a call waits for a free connection (or for the database to accept a new
    /// one) before it fails (default 5 s).
    pub fn checkout_timeout(mut self, d: Duration) -> Self {
        self.checkout_timeout = d;
        self
    }

    /// How long processed deliveries stored with [`InboxStore::push`] are kept (default
    /// 7 days), as [`SqliteStore::retain_processed`](super::sqlite::SqliteStore::retain_processed).
    pub fn retain_processed(mut self, keep: Duration) -> Self {
        self.retain_processed = keep;
        self
    }

    /// Connects, creates the schema if needed and applies the migrations.
    pub fn connect(self) -> Result<PostgresStore, StoreError> {
        off_runtime(|| {
            let mut config: postgres::Config = self.url.parse().map_err(err)?;
            if let Some(schema) = &self.schema {
                if schema.is_empty()
                    || !schema
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(err(format!(
                        "schema `{schema}`: letters, digits and `_` only"
                    )));
                }
                // Created before the pool's connections name it in their search_path.
                // Under the migrations' lock: two instances creating one schema at once
                // would otherwise race (`IF NOT EXISTS` is not atomic in PostgreSQL).
                let mut c = config.connect(NoTls).map_err(err)?;
                c.batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK}); CREATE SCHEMA IF NOT EXISTS {schema}; COMMIT"
                ))
                .map_err(err)?;
                config.options(&format!("-c search_path={schema}"));
            }
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(self.checkout_timeout);
            }
            let pool = Arc::new(Pool {
                config: config.clone(),
                size: self.pool_size,
                timeout: self.checkout_timeout,
                state: Mutex::new(PoolState {
                    idle: Vec::new(),
                    open: 0,
                }),
                freed: Condvar::new(),
            });
            let store = PostgresStore {
                pool,
                added: AtomicU64::new(0),
                retain_processed: self.retain_processed,
                listener: Arc::new(Listener::new(config)),
            };
            store.migrate()?;
            Ok(store)
        })
    }
}

struct PoolState {
    idle: Vec<Client>,
    open: usize,
}

/// A bounded pool of connections.
struct Pool {
    config: postgres::Config,
    size: usize,
    timeout: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
}

/// A connection out of the pool; back in it when dropped (unless it broke).
struct Pooled<'p> {
    pool: &'p Pool,
    client: Option<Client>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        match self.client.take() {
            Some(c) if !c.is_closed() => state.idle.push(c),
            _ => state.open -= 1,
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A client says goodbye to the server when dropped, on its own runtime.
        let idle = std::mem::take(&mut self.lock().idle);
        off_runtime(move || drop(idle));
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let deadline = Instant::now() + self.timeout;
        let mut state = self.lock();
        loop {
            while let Some(c) = state.idle.pop() {
                if !c.is_closed() {
                    return Ok(Pooled {
                        pool: self,
                        client: Some(c),
                    });
                }
                state.open -= 1;
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.config.connect(NoTls) {
                    Ok(c) => Ok(Pooled {
                        pool: self,
                        client: Some(c),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(err(format!("cannot connect: {e}")))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err(format!(
                    "no connection free within {:?} ({} in use)",
                    self.timeout, self.size
                )));
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// One `LISTEN acl_inbox` connection per store, on its own thread, that wakes waiting
/// workers; started by the first wait. When it cannot connect, waiters fall back to
/// their timeout (the slow poll).
struct Listener {
    config: postgres::Config,
    started: std::sync::Once,
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Listener {
    fn new(config: postgres::Config) -> Self {
        Self {
            config,
            started: std::sync::Once::new(),
            generation: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    fn bump(&self) {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }

    fn start(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        self.started.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("acl-pg-listen".into())
                .spawn(move || {
                    let mut backoff = Duration::from_millis(100);
                    // Ends when the store is dropped.
                    while let Some(listener) = me.upgrade() {
                        let connected = listener.config.connect(NoTls).and_then(|mut c| {
                            c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                            Ok(c)
                        });
                        let Ok(mut client) = connected else {
                            drop(listener);
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                            continue;
                        };
                        backoff = Duration::from_millis(100);
                        // Anything pushed while this connection was being made: wake.
                        listener.bump();
                        drop(listener);
                        loop {
                            let got = client
                                .notifications()
                                .timeout_iter(Duration::from_secs(1))
                                .next();
                            let Some(listener) = me.upgrade() else {
                                return;
                            };
                            match got {
                                Ok(Some(_)) => listener.bump(),
                                Ok(None) => {}
                                Err(_) => break,
                            }
                            if client.is_closed() {
                                break;
                            }
                        }
                    }
                });
        });
    }

    fn wait(self: &Arc<Self>, timeout: Duration) {
        self.start();
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let seen = *g;
        let _ = self
            .changed
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// The PostgreSQL store: idempotency keys, inbox and DLQ, outbox, poll cursors.
///
/// ```no_run
/// # fn main() -> Result<(), acl_runtime::store::StoreError> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use acl_runtime::store::postgres::PostgresStore;
/// use acl_runtime::store::InboxStore;
///
/// // Where SQLite had `SqliteStore::open("inbox.sqlite")?`:
/// let inbox = Arc::new(PostgresStore::connect("postgres://acl@db.internal/app")?);
/// // Or with a schema of its own, a pool size and how long a call may wait for it:
/// let inbox = Arc::new(
///     PostgresStore::builder("postgres://acl@db.internal/app")
///         .schema("webhooks")
///         .pool_size(16)
///         .checkout_timeout(Duration::from_secs(2))
///         .connect()?,
/// );
/// // `Receiver::with_inbox_dedupe(name, verifier, inbox.clone())` and
/// // `InboxWorker::new(inbox.clone())` take it as they take the SQLite store.
/// println!("{:?}", inbox.counts()?);
/// # Ok(()) }
/// ```
pub struct PostgresStore {
    pool: Arc<Pool>,
    added: AtomicU64,
    retain_processed: Duration,
    listener: Arc<Listener>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool_size", &self.pool.size)
            .finish_non_exhaustive()
    }
}

/// A delivery from the columns id, source, headers, body, key, received_at.
fn delivery_row(r: &Row) -> NewDelivery {
    NewDelivery {
        id: r.get(0),
        source: r.get(1),
        headers: decode_headers(&r.get::<_, Vec<u8>>(2)),
        body: r.get(3),
        key: r.get(4),
        received_at: r.get(5),
    }
}

/// Runs `f` where the blocking client may block: on this thread when it drives no async
/// task (a plain thread, tokio's blocking pool), through `block_in_place` on a
/// multi-threaded runtime's worker, else on a thread of its own. The `postgres` crate
/// drives each connection with a runtime of its own, which tokio refuses to start on a
/// thread that is running async tasks; so `store.push(..)` or `sender.publish(..)` may
/// be called from async code too.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// A delivery processed in a transaction, and what the handler said.
pub type Processed<E> = (Delivery, Result<(), E>);

impl PostgresStore {
    /// A store at `url` (`postgres://user@127.0.0.1:5432/db`) with the defaults.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect()
    }

    /// A store at `url`, to configure before connecting.
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.to_string(),
            schema: None,
            pool_size: 8,
            checkout_timeout: Duration::from_secs(5),
            retain_processed: Duration::from_secs(7 * 24 * 3600),
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.pool.get()?;
        let mut tx = c.transaction().map_err(err)?;
        // Two instances starting at once: the second waits here, then finds the work done.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS acl_schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            .map_err(err)?;
        let done: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM acl_schema_version",
                &[],
            )
            .map_err(err)?
            .get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i32 + 1;
            if version <= done {
                continue;
            }
            tx.batch_execute(sql)
                .map_err(|e| err(format!("migration {version}: {e}")))?;
            tx.execute(
                "INSERT INTO acl_schema_version (version) VALUES ($1)",
                &[&version],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The schema version the database is at (the number of migrations applied).
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        off_runtime(|| {
            Ok(self
                .pool
                .get()?
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM acl_schema_version",
                    &[],
                )
                .map_err(err)?
                .get(0))
        })
    }

    /// Runs `f` with a pooled connection (for the application's own tables in the same
    /// database, or the same schema).
    pub fn with_client<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            f(&mut c).map_err(err)
        })
    }

    /// Exactly-once processing of the next due delivery for effects kept in this same
    /// database: the claim (a row lock, `FOR UPDATE SKIP LOCKED`), `f`'s writes and
    /// marking it done commit in one transaction. A worker that dies inside leaves a
    /// transaction the server rolls back, and the delivery is processed again (once) by
    /// another. `Ok(None)` when nothing is due; `Err` from `f` rolls back its writes and
    /// returns the delivery with the error, for the caller to retry or dead-letter.
    pub fn process_next_in_transaction<E: Send>(
        &self,
        now: i64,
        in_order: bool,
        f: impl FnOnce(&mut Transaction<'_>, &Delivery) -> Result<(), E> + Send,
    ) -> Result<Option<Processed<E>>, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            let Some(delivery) = claim_inbox(&mut tx, now, 0, in_order)? else {
                return Ok(None);
            };
            match f(&mut tx, &delivery) {
                Ok(()) => {
                    tx.execute(
                    "UPDATE acl_inbox SET status='done', finished_at=$2, lease_until=NULL WHERE id=$1",
                    &[&delivery.delivery.id, &now],
                )
                .map_err(err)?;
                    tx.commit().map_err(err)?;
                    Ok(Some((delivery, Ok(()))))
                }
                Err(e) => {
                    drop(tx); // rollback: the claim and f's writes are undone
                    Ok(Some((delivery, Err(e))))
                }
            }
        })
    }

    /// Every `SWEEP_EVERY` new ids or deliveries (counted per process): deletes expired
    /// ids and, with `keep`, processed deliveries that finished longer ago than that.
    fn sweep(
        &self,
        tx: &mut Transaction<'_>,
        now: i64,
        keep: Option<Duration>,
    ) -> Result<(), StoreError> {
        let n = self.added.fetch_add(1, Ordering::Relaxed) + 1;
        if n % SWEEP_EVERY != 0 {
            return Ok(());
        }
        tx.execute(
            "DELETE FROM acl_idempotency WHERE expires_at <= $1",
            &[&now],
        )
        .map_err(err)?;
        if let Some(keep) = keep {
            tx.execute(
                "DELETE FROM acl_inbox WHERE status='done' AND finished_at < $1",
                &[&now.saturating_sub(ms(keep))],
            )
            .map_err(err)?;
        }
        Ok(())
    }
}

fn claim_inbox(
    tx: &mut Transaction<'_>,
    now: i64,
    lease: i64,
    in_order: bool,
) -> Result<Option<Delivery>, StoreError> {
    // With `in_order`, a keyed delivery waits while an older one of its key is
    // unfinished; a row another worker holds is skipped, and an older row of the same
    // key it holds is still `pending` in this snapshot, so the key stays blocked.
    let sql = if in_order {
        "UPDATE acl_inbox SET status='processing', lease_until=$1 + $2, attempts=attempts+1
         WHERE seq = (SELECT i.seq FROM acl_inbox i
            WHERE ((i.status='pending' AND i.next_at<=$1) OR (i.status='processing' AND i.lease_until<=$1))
              AND (i.key IS NULL OR NOT EXISTS (SELECT 1 FROM acl_inbox o WHERE o.key=i.key AND o.seq<i.seq
                   AND o.status IN ('pending','processing')))
            ORDER BY i.seq LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, source, headers, body, key, received_at, attempts"
    } else {
        "UPDATE acl_inbox SET status='processing', lease_until=$1 + $2, attempts=attempts+1
         WHERE seq = (SELECT seq FROM acl_inbox
            WHERE (status='pending' AND next_at<=$1) OR (status='processing' AND lease_until<=$1)
            ORDER BY next_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, source, headers, body, key, received_at, attempts"
    };
    let row = tx.query_opt(sql, &[&now, &lease]).map_err(err)?;
    Ok(row.map(|r| Delivery {
        delivery: delivery_row(&r),
        attempt: r.get::<_, i32>(6) as u32,
    }))
}

impl super::DedupingInbox for PostgresStore {}

impl IdempotencyStore for PostgresStore {
    fn begin(
        &self,
        id: &str,
        digest: &[u8; 32],
        lease: Duration,
        now: i64,
    ) -> Result<Claim, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            // Insert-or-nothing first: of two instances racing on a new id, exactly one
            // inserts; the other then reads the winner's row (locked until it commits).
            let inserted = tx
            .execute(
                "INSERT INTO acl_idempotency (id, digest, committed, expires_at) VALUES ($1, $2, FALSE, $3)
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &&digest[..], &now.saturating_add(ms(lease))],
            )
            .map_err(err)?;
            let claim = if inserted == 1 {
                Claim::New
            } else {
                let row = tx
                .query_one(
                    "SELECT digest, committed, expires_at FROM acl_idempotency WHERE id=$1 FOR UPDATE",
                    &[&id],
                )
                .map_err(err)?;
                let (held, committed, expires): (Vec<u8>, bool, i64) =
                    (row.get(0), row.get(1), row.get(2));
                match super::judge(&held, committed, expires, digest, now) {
                    Some(claim) => claim,
                    None => {
                        tx.execute(
                        "UPDATE acl_idempotency SET digest=$2, committed=FALSE, expires_at=$3 WHERE id=$1",
                        &[&id, &&digest[..], &now.saturating_add(ms(lease))],
                    )
                    .map_err(err)?;
                        Claim::New
                    }
                }
            };
            if claim == Claim::New {
                self.sweep(&mut tx, now, None)?;
            }
            tx.commit().map_err(err)?;
            Ok(claim)
        })
    }

    fn commit(
        &self,
        id: &str,
        digest: &[u8; 32],
        keep: Duration,
        now: i64,
    ) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "INSERT INTO acl_idempotency (id, digest, committed, expires_at) VALUES ($1, $2, TRUE, $3)
                 ON CONFLICT (id) DO UPDATE SET digest=excluded.digest, committed=TRUE, expires_at=excluded.expires_at",
                &[&id, &&digest[..], &now.saturating_add(ms(keep))],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn abort(&self, id: &str) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
                .get()?
                .execute(
                    "DELETE FROM acl_idempotency WHERE id=$1 AND committed=FALSE",
                    &[&id],
                )
                .map_err(err)?;
            Ok(())
        })
    }
}

const INSERT_DELIVERY: &str =
    "INSERT INTO acl_inbox (id, source, headers, body, key, received_at, status, next_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $6) ON CONFLICT (id) DO NOTHING";

impl InboxStore for PostgresStore {
    fn push(&self, d: &NewDelivery) -> Result<(), StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            let added = tx
                .execute(
                    INSERT_DELIVERY,
                    &[
                        &d.id,
                        &d.source,
                        &encode_headers(&d.headers),
                        &d.body,
                        &d.key,
                        &d.received_at,
                    ],
                )
                .map_err(err)?;
            if added == 1 {
                tx.batch_execute(&format!("NOTIFY {CHANNEL}"))
                    .map_err(err)?;
                self.sweep(&mut tx, d.received_at, Some(self.retain_processed))?;
            }
            tx.commit().map_err(err)
        })
    }

    fn claim(
        &self,
        now: i64,
        lease: Duration,
        in_order: bool,
    ) -> Result<Option<Delivery>, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            // A claim need not wait for its own fsync: were it lost in a crash, so
            // would be everything after it in the WAL (the delivery is pending again,
            // as its lapsed lease would make it); a later synchronous commit
            // (`complete`) flushes it.
            tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
                .map_err(err)?;
            let claimed = claim_inbox(&mut tx, now, ms(lease), in_order)?;
            tx.commit().map_err(err)?;
            Ok(claimed)
        })
    }

    fn complete(&self, id: &str, now: i64) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "UPDATE acl_inbox SET status='done', finished_at=$2, lease_until=NULL WHERE id=$1",
                &[&id, &now],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn retry_at(&self, id: &str, at: i64, error: &str) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "UPDATE acl_inbox SET status='pending', next_at=$2, last_error=$3, lease_until=NULL WHERE id=$1",
                &[&id, &at, &error],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn dead_letter(&self, id: &str, error: &str, now: i64) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "UPDATE acl_inbox SET status='dead', last_error=$2, finished_at=$3, lease_until=NULL WHERE id=$1",
                &[&id, &error, &now],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.dead_letters_page(0, limit)
    }

    fn dead_letters_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        off_runtime(|| {
            let rows = self
                .pool
                .get()?
                .query(
                    "SELECT id, source, headers, body, key, received_at, attempts, last_error, finished_at
                     FROM acl_inbox WHERE status='dead' ORDER BY seq LIMIT $1 OFFSET $2",
                    &[
                        &(limit.min(i64::MAX as usize) as i64),
                        &(offset.min(i64::MAX as usize) as i64),
                    ],
                )
                .map_err(err)?;
            Ok(rows
                .iter()
                .map(|r| DeadLetter {
                    delivery: delivery_row(r),
                    attempts: r.get::<_, i32>(6) as u32,
                    error: r.get::<_, Option<String>>(7).unwrap_or_default(),
                    at: r.get::<_, Option<i64>>(8).unwrap_or_default(),
                })
                .collect())
        })
    }

    fn discard(&self, id: &str) -> Result<bool, StoreError> {
        off_runtime(|| {
            let n = self
                .pool
                .get()?
                .execute(
                    "DELETE FROM acl_inbox WHERE id=$1 AND status='dead'",
                    &[&id],
                )
                .map_err(err)?;
            Ok(n == 1)
        })
    }

    fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            let n = tx
            .execute(
                "UPDATE acl_inbox SET status='pending', attempts=0, next_at=$2, finished_at=NULL WHERE id=$1 AND status='dead'",
                &[&id, &now],
            )
            .map_err(err)?;
            if n == 1 {
                tx.batch_execute(&format!("NOTIFY {CHANNEL}"))
                    .map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(n == 1)
        })
    }

    fn counts(&self) -> Result<InboxCounts, StoreError> {
        off_runtime(|| {
            let rows = self
                .pool
                .get()?
                .query(
                    "SELECT status, COUNT(*) FROM acl_inbox GROUP BY status",
                    &[],
                )
                .map_err(err)?;
            let mut counts = InboxCounts::default();
            for r in rows {
                let (status, n): (String, i64) = (r.get(0), r.get(1));
                let n = n as u64;
                match status.as_str() {
                    "pending" => counts.pending = n,
                    "processing" => counts.processing = n,
                    "done" => counts.done = n,
                    _ => counts.dead = n,
                }
            }
            Ok(counts)
        })
    }

    fn push_unique(
        &self,
        d: &NewDelivery,
        digest: &[u8; 32],
        keep: Duration,
    ) -> Option<Result<Claim, StoreError>> {
        off_runtime(|| {
            let run = || -> Result<Claim, StoreError> {
                let mut c = self.pool.get()?;
                let mut tx = c.transaction().map_err(err)?;
                let now = d.received_at;
                // The id row is the lock: of two receivers racing on one id, one inserts and
                // the other waits on its row, then sees it.
                let inserted = tx
                .execute(
                    "INSERT INTO acl_idempotency (id, digest, committed, expires_at) VALUES ($1, $2, TRUE, $3)
                     ON CONFLICT (id) DO NOTHING",
                    &[&d.id, &&digest[..], &now.saturating_add(ms(keep))],
                )
                .map_err(err)?;
                let claim = if inserted == 1 {
                    Claim::New
                } else {
                    let row = tx
                        .query_one(
                            "SELECT digest, expires_at FROM acl_idempotency WHERE id=$1 FOR UPDATE",
                            &[&d.id],
                        )
                        .map_err(err)?;
                    let (held, expires): (Vec<u8>, i64) = (row.get(0), row.get(1));
                    if expires <= now {
                        tx.execute(
                        "UPDATE acl_idempotency SET digest=$2, committed=TRUE, expires_at=$3 WHERE id=$1",
                        &[&d.id, &&digest[..], &now.saturating_add(ms(keep))],
                    )
                    .map_err(err)?;
                        Claim::New
                    } else if held.as_slice() == digest {
                        Claim::Duplicate
                    } else {
                        Claim::Conflict
                    }
                };
                if claim == Claim::New {
                    tx.execute(
                        INSERT_DELIVERY,
                        &[
                            &d.id,
                            &d.source,
                            &encode_headers(&d.headers),
                            &d.body,
                            &d.key,
                            &d.received_at,
                        ],
                    )
                    .map_err(err)?;
                    tx.batch_execute(&format!("NOTIFY {CHANNEL}"))
                        .map_err(err)?;
                    self.sweep(&mut tx, now, Some(keep))?;
                }
                tx.commit().map_err(err)?;
                Ok(claim)
            };
            Some(run())
        })
    }

    fn notifies(&self) -> bool {
        true
    }

    fn wait_for_work(&self, timeout: Duration) {
        self.listener.wait(timeout);
    }
}

fn endpoint_row(r: &Row) -> Endpoint {
    Endpoint {
        id: r.get(0),
        url: r.get(1),
        secret: r.get(2),
        disabled: r.get(3),
        failing_since: r.get(4),
    }
}

fn message_row(r: &Row) -> OutboundMessage {
    OutboundMessage {
        id: r.get(0),
        endpoint: r.get(1),
        event_type: r.get(2),
        version: r.get(3),
        payload: r.get(4),
        created_at: r.get(5),
    }
}

const ENDPOINT: &str =
    "SELECT id, url, secret, disabled, failing_since FROM acl_endpoints WHERE id=$1";

impl OutboxStore for PostgresStore {
    fn upsert_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "INSERT INTO acl_endpoints (id, url, secret, disabled, failing_since) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET url=excluded.url, secret=excluded.secret",
                &[&e.id, &e.url, &e.secret, &e.disabled, &e.failing_since],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        off_runtime(|| {
            let row = self.pool.get()?.query_opt(ENDPOINT, &[&id]).map_err(err)?;
            Ok(row.as_ref().map(endpoint_row))
        })
    }

    fn endpoint_result(
        &self,
        id: &str,
        ok: bool,
        now: i64,
    ) -> Result<Option<Endpoint>, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            if ok {
                c.execute(
                    "UPDATE acl_endpoints SET failing_since=NULL WHERE id=$1",
                    &[&id],
                )
            } else {
                c.execute(
                "UPDATE acl_endpoints SET failing_since=COALESCE(failing_since, $2) WHERE id=$1",
                &[&id, &now],
            )
            }
            .map_err(err)?;
            let row = c.query_opt(ENDPOINT, &[&id]).map_err(err)?;
            Ok(row.as_ref().map(endpoint_row))
        })
    }

    fn set_endpoint_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "UPDATE acl_endpoints SET disabled=$2, failing_since=CASE WHEN $2 THEN failing_since ELSE NULL END WHERE id=$1",
                &[&id, &disabled],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn enqueue(&self, m: &OutboundMessage, now: i64) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "INSERT INTO acl_outbox (id, endpoint, event_type, version, payload, created_at, status, next_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (id) DO NOTHING",
                &[&m.id, &m.endpoint, &m.event_type, &m.version, &m.payload, &m.created_at, &now],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn claim(
        &self,
        now: i64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<(OutboundMessage, u32)>, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            // As for inbox claims: no fsync of its own.
            tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
                .map_err(err)?;
            let rows = tx
            .query(
                "UPDATE acl_outbox SET status='sending', lease_until=$1 + $2, attempts=attempts+1
                 WHERE seq IN (SELECT o.seq FROM acl_outbox o JOIN acl_endpoints e ON e.id=o.endpoint
                    WHERE NOT e.disabled AND ((o.status='pending' AND o.next_at<=$1) OR (o.status='sending' AND o.lease_until<=$1))
                    ORDER BY o.next_at, o.seq LIMIT $3 FOR UPDATE OF o SKIP LOCKED)
                 RETURNING id, endpoint, event_type, version, payload, created_at, attempts",
                &[&now, &ms(lease), &(limit.min(i64::MAX as usize) as i64)],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(rows
                .iter()
                .map(|r| (message_row(r), r.get::<_, i32>(6) as u32))
                .collect())
        })
    }

    fn record(
        &self,
        id: &str,
        a: &AttemptRecord,
        status: MessageStatus,
        next_at: Option<i64>,
    ) -> Result<(), StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let mut tx = c.transaction().map_err(err)?;
            let n = a.n as i32;
            let code = a.status.map(i32::from);
            tx.execute(
            "INSERT INTO acl_outbox_attempts (message_id, n, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (message_id, n) DO UPDATE SET at=excluded.at, status_code=excluded.status_code, error=excluded.error, duration_ms=excluded.duration_ms",
            &[&id, &n, &a.at, &code, &a.error, &a.duration_ms],
        )
        .map_err(err)?;
            tx.execute(
                "UPDATE acl_outbox SET status=$2, next_at=$3, lease_until=NULL WHERE id=$1",
                &[&id, &status.as_str(), &next_at],
            )
            .map_err(err)?;
            tx.commit().map_err(err)
        })
    }

    fn fail_endpoint_messages(&self, endpoint: &str) -> Result<u64, StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "UPDATE acl_outbox SET status='failed', next_at=NULL WHERE endpoint=$1 AND status IN ('pending','sending')",
                &[&endpoint],
            )
            .map_err(err)
        })
    }

    fn message(&self, id: &str) -> Result<Option<MessageState>, StoreError> {
        off_runtime(|| {
            let mut c = self.pool.get()?;
            let Some(head) = c
            .query_opt(
                "SELECT id, endpoint, event_type, version, payload, created_at, status, next_at FROM acl_outbox WHERE id=$1",
                &[&id],
            )
            .map_err(err)?
        else {
            return Ok(None);
        };
            let attempts = c
            .query(
                "SELECT n, at, status_code, error, duration_ms FROM acl_outbox_attempts WHERE message_id=$1 ORDER BY n",
                &[&id],
            )
            .map_err(err)?
            .iter()
            .map(|r| AttemptRecord {
                n: r.get::<_, i32>(0) as u32,
                at: r.get(1),
                status: r.get::<_, Option<i32>>(2).map(|s| s as u16),
                error: r.get(3),
                duration_ms: r.get(4),
            })
            .collect();
            let status: String = head.get(6);
            Ok(Some(MessageState {
                message: message_row(&head),
                status: MessageStatus::parse(&status).unwrap_or(MessageStatus::Failed),
                attempts,
                next_at: head.get(7),
            }))
        })
    }

    fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        off_runtime(|| {
            let n = self
            .pool
            .get()?
            .execute(
                "UPDATE acl_outbox SET status='pending', next_at=$2, lease_until=NULL, attempts=0 WHERE id=$1 AND status IN ('failed','delivered')",
                &[&id, &now],
            )
            .map_err(err)?;
            Ok(n == 1)
        })
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        off_runtime(|| {
            let rows = self
                .pool
                .get()?
                .query(
                    "SELECT id, url, secret, disabled, failing_since FROM acl_endpoints ORDER BY id",
                    &[],
                )
                .map_err(err)?;
            Ok(rows.iter().map(endpoint_row).collect())
        })
    }

    fn messages_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        off_runtime(|| {
            let rows = self
                .pool
                .get()?
                .query(
                    "SELECT id, endpoint, event_type, status, attempts, next_at, created_at FROM acl_outbox
                     ORDER BY seq DESC LIMIT $1 OFFSET $2",
                    &[
                        &(limit.min(i64::MAX as usize) as i64),
                        &(offset.min(i64::MAX as usize) as i64),
                    ],
                )
                .map_err(err)?;
            Ok(rows
                .iter()
                .map(|r| MessageSummary {
                    id: r.get(0),
                    endpoint: r.get(1),
                    event_type: r.get(2),
                    status: MessageStatus::parse(&r.get::<_, String>(3))
                        .unwrap_or(MessageStatus::Failed),
                    attempts: r.get::<_, i32>(4) as u32,
                    next_at: r.get(5),
                    created_at: r.get(6),
                })
                .collect())
        })
    }

    fn counts(&self) -> Result<HashMap<MessageStatus, u64>, StoreError> {
        off_runtime(|| {
            let rows = self
                .pool
                .get()?
                .query(
                    "SELECT status, COUNT(*) FROM acl_outbox GROUP BY status",
                    &[],
                )
                .map_err(err)?;
            let mut out = HashMap::new();
            for r in rows {
                let (s, n): (String, i64) = (r.get(0), r.get(1));
                if let Some(s) = MessageStatus::parse(&s) {
                    out.insert(s, n as u64);
                }
            }
            Ok(out)
        })
    }
}

impl CursorStore for PostgresStore {
    fn load(&self, name: &str) -> Result<Option<CursorState>, StoreError> {
        off_runtime(|| {
            let row = self
            .pool
            .get()?
            .query_opt(
                "SELECT cursor, etag, last_modified, covered_until FROM acl_cursors WHERE name=$1",
                &[&name],
            )
            .map_err(err)?;
            Ok(row.map(|r| CursorState {
                cursor: r.get(0),
                etag: r.get(1),
                last_modified: r.get(2),
                covered_until: r.get(3),
            }))
        })
    }

    fn save(&self, name: &str, s: &CursorState) -> Result<(), StoreError> {
        off_runtime(|| {
            self.pool
            .get()?
            .execute(
                "INSERT INTO acl_cursors (name, cursor, etag, last_modified, covered_until) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE SET cursor=excluded.cursor, etag=excluded.etag,
                   last_modified=excluded.last_modified, covered_until=excluded.covered_until",
                &[&name, &s.cursor, &s.etag, &s.last_modified, &s.covered_until],
            )
            .map_err(err)?;
            Ok(())
        })
    }
}
