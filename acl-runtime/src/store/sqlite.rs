//! Every durable part in one SQLite file: WAL journal, `synchronous=FULL` (a commit
//! that returned is on disk), a busy timeout so several processes can share the file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::headers::{decode_headers, encode_headers};
use super::{
    AttemptRecord, Claim, CursorState, CursorStore, DeadLetter, Delivery, Endpoint,
    IdempotencyStore, InboxCounts, InboxStore, MessageState, MessageStatus, MessageSummary,
    NewDelivery, OutboundMessage, OutboxStore, StoreError,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS acl_idempotency (
  id TEXT PRIMARY KEY, digest BLOB NOT NULL, committed INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS acl_inbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL,
  key TEXT, received_at INTEGER NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
  lease_until INTEGER, last_error TEXT, finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS acl_inbox_due ON acl_inbox(status, next_at);
CREATE INDEX IF NOT EXISTS acl_inbox_key ON acl_inbox(key, seq);
CREATE TABLE IF NOT EXISTS acl_endpoints (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0, failing_since INTEGER
);
CREATE TABLE IF NOT EXISTS acl_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE, endpoint TEXT NOT NULL, event_type TEXT NOT NULL, version TEXT NOT NULL,
  payload BLOB NOT NULL, created_at INTEGER NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER, lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS acl_outbox_due ON acl_outbox(status, next_at);
CREATE TABLE IF NOT EXISTS acl_outbox_attempts (
  message_id TEXT NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, status_code INTEGER,
  error TEXT, duration_ms INTEGER NOT NULL, PRIMARY KEY (message_id, n)
);
CREATE TABLE IF NOT EXISTS acl_cursors (
  name TEXT PRIMARY KEY, cursor TEXT, etag TEXT, last_modified TEXT, covered_until INTEGER
);
"#;

/// A delivery processed in a transaction, and what the handler said.
pub type Processed<E> = (Delivery, Result<(), E>);

/// The SQLite store: idempotency keys, inbox and DLQ, outbox, poll cursors.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Acknowledgements waiting to be committed together (see `push_unique`).
    acks: Mutex<Vec<Ack>>,
    /// New ids and deliveries stored so far; every `SWEEP_EVERY`th sweeps.
    added: std::sync::atomic::AtomicU64,
    /// How long processed deliveries stored with [`InboxStore::push`] stay (those stored
    /// with `push_unique` stay as long as their id is kept).
    retain_processed: Duration,
}

/// One `push_unique` waiting for the commit that makes it durable, and where its
/// answer goes.
struct Ack {
    delivery: NewDelivery,
    digest: [u8; 32],
    keep: Duration,
    answer: std::sync::Arc<Mutex<Option<Result<Claim, StoreError>>>>,
}

/// How often (in new ids and deliveries) expired ids and old processed deliveries are
/// deleted.
const SWEEP_EVERY: u64 = 256;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new("sqlite", e)
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::new("sqlite", format!("{}: {e}", path.display())))?;
        Self::init(conn)
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(err)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            acks: Mutex::new(Vec::new()),
            added: std::sync::atomic::AtomicU64::new(0),
            retain_processed: Duration::from_secs(7 * 24 * 3600),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| err("connection lock poisoned"))
    }

    /// Runs `f` with the connection (for the application's own tables in the same file).
    pub fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        f(&mut *self.lock()?).map_err(err)
    }

    /// Exactly-once processing of the next due delivery for effects kept in this same
    /// file: claiming it, `f`'s writes and marking it done commit in one transaction. A
    /// crash anywhere inside rolls all three back, and the delivery is processed again
    /// (once) later. `Ok(None)` when nothing is due; `Err` from `f` rolls back its writes
    /// and returns the delivery with the error, for the caller to retry or dead-letter.
    pub fn process_next_in_transaction<E>(
        &self,
        now: i64,
        in_order: bool,
        f: impl FnOnce(&Transaction<'_>, &Delivery) -> Result<(), E>,
    ) -> Result<Option<Processed<E>>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(err)?;
        let Some(delivery) = claim_inbox(&tx, now, 0, in_order)? else {
            return Ok(None);
        };
        match f(&tx, &delivery) {
            Ok(()) => {
                tx.execute(
                    "UPDATE acl_inbox SET status='done', finished_at=?2, lease_until=NULL WHERE id=?1",
                    params![delivery.delivery.id, now],
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
    }
}

/// A delivery from the first six columns: id, source, headers, body, key, received_at.
fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NewDelivery> {
    Ok(NewDelivery {
        id: r.get(0)?,
        source: r.get(1)?,
        headers: decode_headers(&r.get::<_, Vec<u8>>(2)?),
        body: r.get(3)?,
        key: r.get(4)?,
        received_at: r.get(5)?,
    })
}

impl SqliteStore {
    /// How long processed deliveries stored with [`InboxStore::push`] (a receiver
    /// deduplicating through an [`IdempotencyStore`]) are kept (default: 7 days). Those
    /// stored with `push_unique` are the receiver's record of the id and stay as long as
    /// it keeps ids. Dead letters stay until replayed, whatever this says.
    pub fn retain_processed(mut self, keep: Duration) -> Self {
        self.retain_processed = keep;
        self
    }

    /// Every `SWEEP_EVERY` new ids or deliveries: deletes expired ids and, with `keep`,
    /// processed deliveries that finished longer ago than that. Dead letters stay until
    /// replayed.
    fn sweep(&self, conn: &Connection, now: i64, keep: Option<Duration>) -> Result<(), StoreError> {
        let n = self
            .added
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if n % SWEEP_EVERY != 0 {
            return Ok(());
        }
        conn.execute("DELETE FROM acl_idempotency WHERE expires_at <= ?1", [now])
            .map_err(err)?;
        if let Some(keep) = keep {
            conn.execute(
                "DELETE FROM acl_inbox WHERE status='done' AND finished_at < ?1",
                [now.saturating_sub(ms(keep))],
            )
            .map_err(err)?;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// Deduplicates and stores `batch` in one transaction; one answer per entry (every
    /// one an error when the commit fails: nothing of it was stored).
    fn commit_acks(&self, conn: &mut Connection, batch: &[Ack]) -> Vec<Result<Claim, StoreError>> {
        let run = |conn: &mut Connection| -> Result<Vec<Result<Claim, StoreError>>, StoreError> {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            let mut out = Vec::with_capacity(batch.len());
            let mut newest = 0;
            for ack in batch {
                let d = &ack.delivery;
                let now = d.received_at;
                newest = newest.max(now);
                let one = (|| -> Result<Claim, StoreError> {
                    let found: Option<Vec<u8>> = tx
                        .query_row(
                            "SELECT digest FROM acl_idempotency WHERE id=?1 AND expires_at > ?2",
                            params![d.id, now],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(err)?;
                    Ok(match found {
                        Some(existing) if existing.as_slice() == ack.digest => Claim::Duplicate,
                        Some(_) => Claim::Conflict,
                        None => {
                            tx.execute(
                                "INSERT OR REPLACE INTO acl_idempotency (id, digest, committed, expires_at) VALUES (?1, ?2, 1, ?3)",
                                params![d.id, &ack.digest[..], now.saturating_add(ms(ack.keep))],
                            )
                            .map_err(err)?;
                            tx.execute(
                                "INSERT OR IGNORE INTO acl_inbox (id, source, headers, body, key, received_at, status, next_at)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?6)",
                                params![d.id, d.source, encode_headers(&d.headers), d.body, d.key, d.received_at],
                            )
                            .map_err(err)?;
                            Claim::New
                        }
                    })
                })();
                out.push(one);
            }
            if let Some(keep) = batch.iter().map(|a| a.keep).max() {
                for _ in 0..out.iter().filter(|r| matches!(r, Ok(Claim::New))).count() {
                    self.sweep(&tx, newest, Some(keep))?;
                }
            }
            tx.commit().map_err(err)?;
            Ok(out)
        };
        match run(conn) {
            Ok(out) => out,
            Err(e) => batch
                .iter()
                .map(|_| Err(StoreError::new(e.store, &e.message)))
                .collect(),
        }
    }
}

fn claim_inbox(
    conn: &Connection,
    now: i64,
    lease: i64,
    in_order: bool,
) -> Result<Option<Delivery>, StoreError> {
    // With `in_order`, a keyed delivery waits while an older one of its key is unfinished
    // (pending, processing or waiting for a retry); dead letters do not block a key.
    let sql = if in_order {
        "UPDATE acl_inbox SET status='processing', lease_until=?1 + ?2, attempts=attempts+1
         WHERE seq = (SELECT i.seq FROM acl_inbox i
            WHERE ((i.status='pending' AND i.next_at<=?1) OR (i.status='processing' AND i.lease_until<=?1))
              AND (i.key IS NULL OR NOT EXISTS (SELECT 1 FROM acl_inbox o WHERE o.key=i.key AND o.seq<i.seq
                   AND o.status IN ('pending','processing')))
            ORDER BY i.seq LIMIT 1)
         RETURNING id, source, headers, body, key, received_at, attempts"
    } else {
        "UPDATE acl_inbox SET status='processing', lease_until=?1 + ?2, attempts=attempts+1
         WHERE seq = (SELECT seq FROM acl_inbox
            WHERE (status='pending' AND next_at<=?1) OR (status='processing' AND lease_until<=?1)
            ORDER BY next_at, seq LIMIT 1)
         RETURNING id, source, headers, body, key, received_at, attempts"
    };
    conn.query_row(sql, params![now, lease], |r| {
        Ok(Delivery {
            delivery: delivery_row(r)?,
            attempt: r.get::<_, i64>(6)? as u32,
        })
    })
    .optional()
    .map_err(err)
}

impl super::DedupingInbox for SqliteStore {}

impl IdempotencyStore for SqliteStore {
    fn begin(
        &self,
        id: &str,
        digest: &[u8; 32],
        lease: Duration,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let found: Option<(Vec<u8>, bool, i64)> = tx
            .query_row(
                "SELECT digest, committed, expires_at FROM acl_idempotency WHERE id=?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(err)?;
        let judged =
            found.and_then(|(d, committed, exp)| super::judge(&d, committed, exp, digest, now));
        let claim = match judged {
            Some(claim) => claim,
            None => {
                tx.execute(
                    "INSERT OR REPLACE INTO acl_idempotency (id, digest, committed, expires_at) VALUES (?1, ?2, 0, ?3)",
                    params![id, &digest[..], now.saturating_add(ms(lease))],
                )
                .map_err(err)?;
                self.sweep(&tx, now, None)?;
                Claim::New
            }
        };
        tx.commit().map_err(err)?;
        Ok(claim)
    }

    fn commit(
        &self,
        id: &str,
        digest: &[u8; 32],
        keep: Duration,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT OR REPLACE INTO acl_idempotency (id, digest, committed, expires_at) VALUES (?1, ?2, 1, ?3)",
                params![id, &digest[..], now.saturating_add(ms(keep))],
            )
            .map_err(err)?;
        Ok(())
    }

    fn abort(&self, id: &str) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "DELETE FROM acl_idempotency WHERE id=?1 AND committed=0",
                [id],
            )
            .map_err(err)?;
        Ok(())
    }
}

impl InboxStore for SqliteStore {
    fn push(&self, d: &NewDelivery) -> Result<(), StoreError> {
        let conn = self.lock()?;
        let added = conn
            .execute(
                "INSERT OR IGNORE INTO acl_inbox (id, source, headers, body, key, received_at, status, next_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?6)",
                params![d.id, d.source, encode_headers(&d.headers), d.body, d.key, d.received_at],
            )
            .map_err(err)?;
        if added == 1 {
            self.sweep(&conn, d.received_at, Some(self.retain_processed))?;
        }
        Ok(())
    }

    fn claim(
        &self,
        now: i64,
        lease: Duration,
        in_order: bool,
    ) -> Result<Option<Delivery>, StoreError> {
        claim_inbox(&*self.lock()?, now, ms(lease), in_order)
    }

    fn complete(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE acl_inbox SET status='done', finished_at=?2, lease_until=NULL WHERE id=?1",
                params![id, now],
            )
            .map_err(err)?;
        Ok(())
    }

    fn retry_at(&self, id: &str, at: i64, error: &str) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE acl_inbox SET status='pending', next_at=?2, last_error=?3, lease_until=NULL WHERE id=?1",
                params![id, at, error],
            )
            .map_err(err)?;
        Ok(())
    }

    fn dead_letter(&self, id: &str, error: &str, now: i64) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE acl_inbox SET status='dead', last_error=?2, finished_at=?3, lease_until=NULL WHERE id=?1",
                params![id, error, now],
            )
            .map_err(err)?;
        Ok(())
    }

    fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.dead_letters_page(0, limit)
    }

    fn discard(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()?
            .execute("DELETE FROM acl_inbox WHERE id=?1 AND status='dead'", [id])
            .map_err(err)?;
        Ok(n == 1)
    }

    fn dead_letters_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, source, headers, body, key, received_at, attempts, last_error, finished_at
                 FROM acl_inbox WHERE status='dead' ORDER BY seq LIMIT ?1 OFFSET ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                [
                    limit.min(i64::MAX as usize) as i64,
                    offset.min(i64::MAX as usize) as i64,
                ],
                |r| {
                    Ok(DeadLetter {
                        delivery: delivery_row(r)?,
                        attempts: r.get::<_, i64>(6)? as u32,
                        error: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        at: r.get::<_, Option<i64>>(8)?.unwrap_or_default(),
                    })
                },
            )
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let n = self
            .lock()?
            .execute(
                "UPDATE acl_inbox SET status='pending', attempts=0, next_at=?2, finished_at=NULL WHERE id=?1 AND status='dead'",
                params![id, now],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    /// Group commit: concurrent acknowledgements share one transaction and one fsync.
    /// Each call queues its delivery, then waits for the connection; whoever holds it
    /// commits everything queued by then (its own included) in one transaction, and
    /// the others find their answer already there when their turn comes. One caller
    /// alone still commits at once; under load a commit carries the acknowledgements
    /// that arrived during the previous one.
    fn push_unique(
        &self,
        d: &NewDelivery,
        digest: &[u8; 32],
        keep: Duration,
    ) -> Option<Result<Claim, StoreError>> {
        let answer = std::sync::Arc::new(Mutex::new(None));
        self.acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Ack {
                delivery: d.clone(),
                digest: *digest,
                keep,
                answer: answer.clone(),
            });
        let taken = |a: &std::sync::Arc<Mutex<Option<Result<Claim, StoreError>>>>| {
            a.lock().unwrap_or_else(|p| p.into_inner()).take()
        };
        let mut conn = match self.lock() {
            Ok(c) => c,
            Err(e) => return Some(taken(&answer).unwrap_or(Err(e))),
        };
        // Committed by the previous holder, with its batch.
        if let Some(done) = taken(&answer) {
            return Some(done);
        }
        let batch = std::mem::take(&mut *self.acks.lock().unwrap_or_else(|p| p.into_inner()));
        let results = self.commit_acks(&mut conn, &batch);
        for (ack, result) in batch.iter().zip(results) {
            *ack.answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        }
        drop(conn);
        Some(taken(&answer).unwrap_or_else(|| Err(err("the acknowledgement was lost"))))
    }

    fn counts(&self) -> Result<InboxCounts, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare("SELECT status, COUNT(*) FROM acl_inbox GROUP BY status")
            .map_err(err)?;
        let mut counts = InboxCounts::default();
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(err)?;
        for row in rows {
            let (status, n) = row.map_err(err)?;
            match status.as_str() {
                "pending" => counts.pending = n,
                "processing" => counts.processing = n,
                "done" => counts.done = n,
                _ => counts.dead = n,
            }
        }
        Ok(counts)
    }
}

fn endpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Endpoint> {
    Ok(Endpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        secret: r.get(2)?,
        disabled: r.get(3)?,
        failing_since: r.get(4)?,
    })
}

fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboundMessage> {
    Ok(OutboundMessage {
        id: r.get(0)?,
        endpoint: r.get(1)?,
        event_type: r.get(2)?,
        version: r.get(3)?,
        payload: r.get(4)?,
        created_at: r.get(5)?,
    })
}

impl OutboxStore for SqliteStore {
    fn upsert_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT INTO acl_endpoints (id, url, secret, disabled, failing_since) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET url=excluded.url, secret=excluded.secret",
                params![e.id, e.url, e.secret, e.disabled, e.failing_since],
            )
            .map_err(err)?;
        Ok(())
    }

    fn endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.lock()?
            .query_row(
                "SELECT id, url, secret, disabled, failing_since FROM acl_endpoints WHERE id=?1",
                [id],
                endpoint_row,
            )
            .optional()
            .map_err(err)
    }

    fn endpoint_result(
        &self,
        id: &str,
        ok: bool,
        now: i64,
    ) -> Result<Option<Endpoint>, StoreError> {
        let conn = self.lock()?;
        let sql = if ok {
            "UPDATE acl_endpoints SET failing_since=NULL WHERE id=?1 AND ?2 IS NOT NULL"
        } else {
            "UPDATE acl_endpoints SET failing_since=COALESCE(failing_since, ?2) WHERE id=?1"
        };
        conn.execute(sql, params![id, now]).map_err(err)?;
        conn.query_row(
            "SELECT id, url, secret, disabled, failing_since FROM acl_endpoints WHERE id=?1",
            [id],
            endpoint_row,
        )
        .optional()
        .map_err(err)
    }

    fn set_endpoint_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE acl_endpoints SET disabled=?2, failing_since=CASE WHEN ?2 THEN failing_since ELSE NULL END WHERE id=?1",
                params![id, disabled],
            )
            .map_err(err)?;
        Ok(())
    }

    fn enqueue(&self, m: &OutboundMessage, now: i64) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT OR IGNORE INTO acl_outbox (id, endpoint, event_type, version, payload, created_at, status, next_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
                params![m.id, m.endpoint, m.event_type, m.version, m.payload, m.created_at, now],
            )
            .map_err(err)?;
        Ok(())
    }

    fn claim(
        &self,
        now: i64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<(OutboundMessage, u32)>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(err)?;
        let claimed = {
            let mut stmt = tx
                .prepare(
                    "UPDATE acl_outbox SET status='sending', lease_until=?1 + ?2, attempts=attempts+1
                     WHERE seq IN (SELECT o.seq FROM acl_outbox o JOIN acl_endpoints e ON e.id=o.endpoint
                        WHERE e.disabled=0 AND ((o.status='pending' AND o.next_at<=?1) OR (o.status='sending' AND o.lease_until<=?1))
                        ORDER BY o.next_at, o.seq LIMIT ?3)
                     RETURNING id, endpoint, event_type, version, payload, created_at, attempts",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map(params![now, ms(lease), limit as i64], |r| {
                    Ok((message_row(r)?, r.get::<_, i64>(6)? as u32))
                })
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)?
        };
        tx.commit().map_err(err)?;
        Ok(claimed)
    }

    fn record(
        &self,
        id: &str,
        a: &AttemptRecord,
        status: MessageStatus,
        next_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT OR REPLACE INTO acl_outbox_attempts (message_id, n, at, status_code, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, a.n, a.at, a.status, a.error, a.duration_ms],
        )
        .map_err(err)?;
        tx.execute(
            "UPDATE acl_outbox SET status=?2, next_at=?3, lease_until=NULL WHERE id=?1",
            params![id, status.as_str(), next_at],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    fn fail_endpoint_messages(&self, endpoint: &str) -> Result<u64, StoreError> {
        let n = self
            .lock()?
            .execute(
                "UPDATE acl_outbox SET status='failed', next_at=NULL WHERE endpoint=?1 AND status IN ('pending','sending')",
                [endpoint],
            )
            .map_err(err)?;
        Ok(n as u64)
    }

    fn message(&self, id: &str) -> Result<Option<MessageState>, StoreError> {
        let conn = self.lock()?;
        let head = conn
            .query_row(
                "SELECT id, endpoint, event_type, version, payload, created_at, status, next_at FROM acl_outbox WHERE id=?1",
                [id],
                |r| Ok((message_row(r)?, r.get::<_, String>(6)?, r.get::<_, Option<i64>>(7)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((message, status, next_at)) = head else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare("SELECT n, at, status_code, error, duration_ms FROM acl_outbox_attempts WHERE message_id=?1 ORDER BY n")
            .map_err(err)?;
        let attempts = stmt
            .query_map([id], |r| {
                Ok(AttemptRecord {
                    n: r.get::<_, i64>(0)? as u32,
                    at: r.get(1)?,
                    status: r.get::<_, Option<i64>>(2)?.map(|s| s as u16),
                    error: r.get(3)?,
                    duration_ms: r.get(4)?,
                })
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(Some(MessageState {
            message,
            status: MessageStatus::parse(&status).unwrap_or(MessageStatus::Failed),
            attempts,
            next_at,
        }))
    }

    fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let n = self
            .lock()?
            .execute(
                "UPDATE acl_outbox SET status='pending', next_at=?2, lease_until=NULL, attempts=0 WHERE id=?1 AND status IN ('failed','delivered')",
                params![id, now],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, url, secret, disabled, failing_since FROM acl_endpoints ORDER BY id",
            )
            .map_err(err)?;
        let rows = stmt.query_map([], endpoint_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn messages_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, endpoint, event_type, status, attempts, next_at, created_at FROM acl_outbox
                 ORDER BY seq DESC LIMIT ?1 OFFSET ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                [
                    limit.min(i64::MAX as usize) as i64,
                    offset.min(i64::MAX as usize) as i64,
                ],
                |r| {
                    Ok(MessageSummary {
                        id: r.get(0)?,
                        endpoint: r.get(1)?,
                        event_type: r.get(2)?,
                        status: MessageStatus::parse(&r.get::<_, String>(3)?)
                            .unwrap_or(MessageStatus::Failed),
                        attempts: r.get::<_, i64>(4)? as u32,
                        next_at: r.get(5)?,
                        created_at: r.get(6)?,
                    })
                },
            )
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn counts(&self) -> Result<HashMap<MessageStatus, u64>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare("SELECT status, COUNT(*) FROM acl_outbox GROUP BY status")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(err)?;
        let mut out = HashMap::new();
        for row in rows {
            let (s, n) = row.map_err(err)?;
            if let Some(s) = MessageStatus::parse(&s) {
                out.insert(s, n);
            }
        }
        Ok(out)
    }
}

impl CursorStore for SqliteStore {
    fn load(&self, name: &str) -> Result<Option<CursorState>, StoreError> {
        self.lock()?
            .query_row(
                "SELECT cursor, etag, last_modified, covered_until FROM acl_cursors WHERE name=?1",
                [name],
                |r| {
                    Ok(CursorState {
                        cursor: r.get(0)?,
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                        covered_until: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(err)
    }

    fn save(&self, name: &str, s: &CursorState) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT OR REPLACE INTO acl_cursors (name, cursor, etag, last_modified, covered_until) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, s.cursor, s.etag, s.last_modified, s.covered_until],
            )
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: &str, key: Option<&str>, at: i64) -> NewDelivery {
        NewDelivery {
            id: id.into(),
            source: "test".into(),
            headers: vec![
                ("webhook-id".into(), id.as_bytes().to_vec()),
                ("x-raw".into(), vec![0xff, 0]),
            ],
            body: vec![0xfe, b'{', 0],
            key: key.map(Into::into),
            received_at: at,
        }
    }

    #[test]
    fn inbox_claims_leases_retries_and_dead_letters() {
        let s = SqliteStore::in_memory().unwrap();
        let lease = Duration::from_secs(30);
        s.push(&delivery("a", None, 1)).unwrap();
        s.push(&delivery("a", None, 2)).unwrap(); // once
        s.push(&delivery("b", None, 3)).unwrap();
        let a = InboxStore::claim(&s, 10, lease, false).unwrap().unwrap();
        assert_eq!(
            a.delivery,
            delivery("a", None, 1),
            "bytes and headers kept exactly"
        );
        assert_eq!(a.attempt, 1);
        let b = InboxStore::claim(&s, 10, lease, false).unwrap().unwrap();
        assert_eq!(b.delivery.id, "b");
        assert!(InboxStore::claim(&s, 10, lease, false).unwrap().is_none());
        // a's worker died: its lease lapses and it is claimed again, attempt 2.
        let again = InboxStore::claim(&s, 30_010, lease, false)
            .unwrap()
            .unwrap();
        assert_eq!((again.delivery.id.as_str(), again.attempt), ("a", 2));
        s.retry_at("a", 40_000, "503 from the ledger").unwrap();
        s.complete("b", 30_011).unwrap();
        assert!(InboxStore::claim(&s, 39_999, lease, false)
            .unwrap()
            .is_none());
        let third = InboxStore::claim(&s, 40_000, lease, false)
            .unwrap()
            .unwrap();
        assert_eq!(third.attempt, 3);
        s.dead_letter("a", "invalid payload at /amount", 40_001)
            .unwrap();
        let dead = s.dead_letters(10).unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].error, "invalid payload at /amount");
        assert_eq!(dead[0].attempts, 3);
        assert_eq!(
            InboxStore::counts(&s).unwrap(),
            InboxCounts {
                pending: 0,
                processing: 0,
                done: 1,
                dead: 1
            }
        );
        assert!(InboxStore::replay(&s, "a", 50_000).unwrap());
        assert!(!InboxStore::replay(&s, "a", 50_000).unwrap());
        assert_eq!(
            InboxStore::claim(&s, 50_000, lease, false)
                .unwrap()
                .unwrap()
                .attempt,
            1
        );
    }

    #[test]
    fn in_order_claims_wait_for_the_older_delivery_of_the_same_key() {
        let s = SqliteStore::in_memory().unwrap();
        let lease = Duration::from_secs(30);
        s.push(&delivery("k1-1", Some("order-1"), 1)).unwrap();
        s.push(&delivery("k1-2", Some("order-1"), 2)).unwrap();
        s.push(&delivery("k2-1", Some("order-2"), 3)).unwrap();
        let first = InboxStore::claim(&s, 10, lease, true).unwrap().unwrap();
        assert_eq!(first.delivery.id, "k1-1");
        // k1-2 waits for k1-1; another key goes ahead in parallel.
        let second = InboxStore::claim(&s, 10, lease, true).unwrap().unwrap();
        assert_eq!(second.delivery.id, "k2-1");
        assert!(InboxStore::claim(&s, 10, lease, true).unwrap().is_none());
        s.complete("k1-1", 11).unwrap();
        assert_eq!(
            InboxStore::claim(&s, 12, lease, true)
                .unwrap()
                .unwrap()
                .delivery
                .id,
            "k1-2"
        );
    }

    #[test]
    fn transactional_processing_rolls_back_effects_and_claim_together() {
        let s = SqliteStore::in_memory().unwrap();
        s.with_connection(|c| c.execute_batch("CREATE TABLE effects (id TEXT PRIMARY KEY)"))
            .unwrap();
        s.push(&delivery("x", None, 1)).unwrap();
        let r = s
            .process_next_in_transaction(5, false, |tx, d| {
                tx.execute("INSERT INTO effects VALUES (?1)", [&d.delivery.id])
                    .map_err(|e| e.to_string())?;
                Err::<(), String>("ledger down".into())
            })
            .unwrap()
            .unwrap();
        assert!(r.1.is_err());
        let n: i64 = s
            .with_connection(|c| c.query_row("SELECT COUNT(*) FROM effects", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 0, "the failed attempt's effects are gone");
        let r = s
            .process_next_in_transaction(6, false, |tx, d| {
                tx.execute("INSERT INTO effects VALUES (?1)", [&d.delivery.id])
                    .map(|_| ())
            })
            .unwrap()
            .unwrap();
        assert!(r.1.is_ok());
        assert!(s
            .process_next_in_transaction(7, false, |_, _| Ok::<(), String>(()))
            .unwrap()
            .is_none());
        assert_eq!(InboxStore::counts(&s).unwrap().done, 1);
    }

    #[test]
    fn idempotency_in_sqlite_matches_the_memory_store() {
        let dir = std::env::temp_dir().join(format!("acl-idem-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let s = SqliteStore::open(&dir).unwrap();
        let lease = Duration::from_secs(10);
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(s.begin("x", &a, lease, 1).unwrap(), Claim::New);
        assert_eq!(s.begin("x", &a, lease, 2).unwrap(), Claim::InProgress);
        assert_eq!(s.begin("x", &b, lease, 2).unwrap(), Claim::Conflict);
        s.commit("x", &a, Duration::from_secs(60), 3).unwrap();
        drop(s);
        // Survives a restart.
        let s = SqliteStore::open(&dir).unwrap();
        assert_eq!(s.begin("x", &a, lease, 4).unwrap(), Claim::Duplicate);
        assert_eq!(s.begin("x", &a, lease, 60_004).unwrap(), Claim::New);
        s.abort("x").unwrap();
        assert_eq!(s.begin("x", &a, lease, 60_005).unwrap(), Claim::New);
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn outbox_records_attempts_and_replays() {
        let s = SqliteStore::in_memory().unwrap();
        s.upsert_endpoint(&Endpoint {
            id: "e".into(),
            url: "http://127.0.0.1:1/".into(),
            secret: "whsec_AAAA".into(),
            disabled: false,
            failing_since: None,
        })
        .unwrap();
        let m = OutboundMessage {
            id: "m1".into(),
            endpoint: "e".into(),
            event_type: "t".into(),
            version: "v1".into(),
            payload: b"{}".to_vec(),
            created_at: 1,
        };
        s.enqueue(&m, 1).unwrap();
        s.enqueue(&m, 1).unwrap();
        let claimed = OutboxStore::claim(&s, 1, Duration::from_secs(10), 10).unwrap();
        assert_eq!(claimed, vec![(m.clone(), 1)]);
        assert!(OutboxStore::claim(&s, 2, Duration::from_secs(10), 10)
            .unwrap()
            .is_empty());
        s.record(
            "m1",
            &AttemptRecord {
                n: 1,
                at: 1,
                status: Some(503),
                error: None,
                duration_ms: 4,
            },
            MessageStatus::Pending,
            Some(5_001),
        )
        .unwrap();
        assert!(OutboxStore::claim(&s, 5_000, Duration::from_secs(10), 10)
            .unwrap()
            .is_empty());
        assert_eq!(
            OutboxStore::claim(&s, 5_001, Duration::from_secs(10), 10).unwrap()[0].1,
            2
        );
        s.record(
            "m1",
            &AttemptRecord {
                n: 2,
                at: 5_001,
                status: Some(200),
                error: None,
                duration_ms: 3,
            },
            MessageStatus::Delivered,
            None,
        )
        .unwrap();
        let st = s.message("m1").unwrap().unwrap();
        assert_eq!(st.status, MessageStatus::Delivered);
        assert_eq!(
            st.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
            vec![Some(503), Some(200)]
        );
        assert!(OutboxStore::replay(&s, "m1", 6_000).unwrap());
        assert_eq!(
            s.message("m1").unwrap().unwrap().status,
            MessageStatus::Pending
        );
        // A disabled endpoint's messages are not claimed.
        s.set_endpoint_disabled("e", true).unwrap();
        assert!(OutboxStore::claim(&s, 7_000, Duration::from_secs(10), 10)
            .unwrap()
            .is_empty());
        assert_eq!(
            s.endpoint_result("e", false, 7_000)
                .unwrap()
                .unwrap()
                .failing_since,
            Some(7_000)
        );
        assert_eq!(
            s.endpoint_result("e", false, 8_000)
                .unwrap()
                .unwrap()
                .failing_since,
            Some(7_000)
        );
        assert_eq!(
            s.endpoint_result("e", true, 9_000)
                .unwrap()
                .unwrap()
                .failing_since,
            None
        );
    }

    #[test]
    fn push_unique_deduplicates_and_stores_in_one_step() {
        let s = SqliteStore::in_memory().unwrap();
        let keep = Duration::from_secs(60);
        let d = delivery("u", None, 1_000);
        assert_eq!(
            s.push_unique(&d, &[1; 32], keep).unwrap().unwrap(),
            Claim::New
        );
        assert_eq!(
            s.push_unique(&d, &[1; 32], keep).unwrap().unwrap(),
            Claim::Duplicate
        );
        assert_eq!(
            s.push_unique(&d, &[2; 32], keep).unwrap().unwrap(),
            Claim::Conflict
        );
        assert_eq!(InboxStore::counts(&s).unwrap().pending, 1);
        // Forgotten after `keep`: the inbox row (unique id) still refuses a second copy.
        let later = NewDelivery {
            received_at: 70_000,
            ..d
        };
        assert_eq!(
            s.push_unique(&later, &[1; 32], keep).unwrap().unwrap(),
            Claim::New
        );
        assert_eq!(InboxStore::counts(&s).unwrap().pending, 1);
    }

    #[test]
    fn expired_ids_and_old_processed_deliveries_are_swept() {
        let s = SqliteStore::in_memory().unwrap();
        let keep = Duration::from_secs(60);
        let old = delivery("old", None, 0);
        assert_eq!(
            s.push_unique(&old, &[1; 32], keep).unwrap().unwrap(),
            Claim::New
        );
        s.complete("old", 1).unwrap();
        let count = |sql: &str| -> i64 {
            s.with_connection(|c| c.query_row(sql, [], |r| r.get(0)))
                .unwrap()
        };
        // Enough new ids, an hour later, to trigger a sweep.
        for i in 1..SWEEP_EVERY {
            let d = delivery(&format!("n{i}"), None, 3_600_000);
            s.push_unique(&d, &[2; 32], keep).unwrap().unwrap();
        }
        assert_eq!(
            count("SELECT COUNT(*) FROM acl_idempotency WHERE id='old'"),
            0,
            "the expired id is gone"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM acl_inbox WHERE id='old'"),
            0,
            "the old processed delivery is gone"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM acl_inbox"),
            SWEEP_EVERY as i64 - 1,
            "the new ones stay"
        );
    }

    #[test]
    fn processed_deliveries_stored_without_ids_are_swept_after_their_retention() {
        let s = SqliteStore::in_memory()
            .unwrap()
            .retain_processed(Duration::from_secs(60));
        s.push(&delivery("done-early", None, 0)).unwrap();
        s.complete("done-early", 1).unwrap();
        s.push(&delivery("dead", None, 0)).unwrap();
        s.push(&delivery("waiting", None, 0)).unwrap();
        s.with_connection(|c| c.execute("UPDATE acl_inbox SET status='dead' WHERE id='dead'", []))
            .unwrap();
        let count = |sql: &str| -> i64 {
            s.with_connection(|c| c.query_row(sql, [], |r| r.get(0)))
                .unwrap()
        };
        // An hour later, enough deliveries to trigger a sweep.
        for i in 3..SWEEP_EVERY {
            s.push(&delivery(&format!("n{i}"), None, 3_600_000))
                .unwrap();
        }
        assert_eq!(
            count("SELECT COUNT(*) FROM acl_inbox WHERE id='done-early'"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM acl_inbox WHERE id IN ('dead', 'waiting')"),
            2,
            "dead letters and unprocessed deliveries stay"
        );
    }

    #[test]
    fn cursors_round_trip() {
        let s = SqliteStore::in_memory().unwrap();
        assert_eq!(s.load("p").unwrap(), None);
        let st = CursorState {
            cursor: Some("c2".into()),
            etag: Some("\"e\"".into()),
            last_modified: None,
            covered_until: Some(9),
        };
        s.save("p", &st).unwrap();
        assert_eq!(s.load("p").unwrap(), Some(st));
    }
}
