//! Webhook deduplication in Redis, shared by every instance of a receiver (feature
//! `redis`).

use std::sync::Mutex;
use std::time::Duration;

const BEGIN: &str = r#"
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 2) ~= ARGV[1] then return 'conflict' end
  if string.sub(v, 1, 1) == 'd' then return 'duplicate' end
  return 'progress'
end
redis.call('SET', KEYS[1], 'p' .. ARGV[1], 'PX', ARGV[2])
return 'new'
"#;

const ABORT: &str = r#"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 1) == 'p' then redis.call('DEL', KEYS[1]) end
return 1
"#;

/// Webhook deduplication shared by every instance of a receiver: an
/// [`IdempotencyStore`](crate::store::IdempotencyStore) in Redis. One round trip per
/// step, atomic by script; expiry is Redis's own (`PX`), so the `now` the trait passes is
/// not used and instances' clocks do not matter.
pub struct RedisIdempotency {
    connection: Mutex<redis::Connection>,
    begin: redis::Script,
    abort: redis::Script,
    prefix: String,
}

impl std::fmt::Debug for RedisIdempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIdempotency")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisIdempotency {
    /// Connects to `url`; keys are `prefix:id`.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let connection = client.get_connection_with_timeout(Duration::from_secs(5))?;
        Ok(Self {
            connection: Mutex::new(connection),
            begin: redis::Script::new(BEGIN),
            abort: redis::Script::new(ABORT),
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, id: &str) -> String {
        format!("{}:{id}", self.prefix)
    }
}

fn store_err(e: impl std::fmt::Display) -> crate::store::StoreError {
    crate::store::StoreError::new("redis", e)
}

fn px(d: Duration) -> u64 {
    (d.as_millis().min(u64::MAX as u128) as u64).max(1)
}

impl crate::store::IdempotencyStore for RedisIdempotency {
    fn begin(
        &self,
        id: &str,
        digest: &[u8; 32],
        lease: Duration,
        _now: i64,
    ) -> Result<crate::store::Claim, crate::store::StoreError> {
        use crate::store::Claim;
        let mut conn = self.connection.lock().map_err(|_| store_err("poisoned"))?;
        let answer: String = self
            .begin
            .key(self.key(id))
            .arg(hex(digest))
            .arg(px(lease))
            .invoke(&mut *conn)
            .map_err(store_err)?;
        Ok(match answer.as_str() {
            "new" => Claim::New,
            "duplicate" => Claim::Duplicate,
            "progress" => Claim::InProgress,
            _ => Claim::Conflict,
        })
    }

    fn commit(
        &self,
        id: &str,
        digest: &[u8; 32],
        keep: Duration,
        _now: i64,
    ) -> Result<(), crate::store::StoreError> {
        let mut conn = self.connection.lock().map_err(|_| store_err("poisoned"))?;
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(format!("d{}", hex(digest)))
            .arg("PX")
            .arg(px(keep))
            .query::<()>(&mut *conn)
            .map_err(store_err)
    }

    fn abort(&self, id: &str) -> Result<(), crate::store::StoreError> {
        let mut conn = self.connection.lock().map_err(|_| store_err("poisoned"))?;
        self.abort
            .key(self.key(id))
            .invoke::<i64>(&mut *conn)
            .map(|_| ())
            .map_err(store_err)
    }
}
