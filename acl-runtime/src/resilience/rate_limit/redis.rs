//! A rate-limit [`Store`] in Redis, so every instance of a service shares one limit.
//!
//! One round trip per decision: a Lua script reads the key's state, decides with the
//! same arithmetic as [`decide`](crate::resilience::rate_limit::decide), writes the state back and
//! sets an idle expiry, atomically. Time is the Redis server's (`TIME`), so clients'
//! clocks do not matter; tests may pass an explicit time instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::resilience::rate_limit::{Algorithm, Decision, Store};

const SCRIPT: &str = r#"
local key = KEYS[1]
local kind = ARGV[1]
local p1 = tonumber(ARGV[2])
local p2 = tonumber(ARGV[3])
local idle_ms = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now == nil or now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local s = redis.call('HMGET', key, 'a', 'b', 'c')
local fresh = s[1] == false
local a = tonumber(s[1]) or 0
local b = tonumber(s[2]) or now
local c = tonumber(s[3]) or 0
local allowed = 0
local wait = 0
if kind == 'token' then
  local rate, burst = p1, p2
  local t = 1.0 / rate
  local tat = math.max(a, now)
  local new_tat = tat + t
  local limit = t * burst
  if new_tat - now > limit + 1e-9 then
    wait = new_tat - now - limit
  else
    a = new_tat
    allowed = 1
  end
elseif kind == 'leaky' then
  local rate, capacity = p1, p2
  local level = math.max(a - math.max(now - b, 0) * rate, 0)
  b = now
  if level + 1.0 > capacity + 1e-9 then
    a = level
    wait = (level + 1.0 - capacity) / rate
  else
    a = level + 1.0
    allowed = 1
  end
elseif kind == 'fixed' then
  local limit, w = p1, p2
  local index = math.floor(now / w)
  if fresh or index ~= b then
    b = index
    a = 0
  end
  if a < limit then
    a = a + 1
    allowed = 1
  else
    wait = (index + 1) * w - now
  end
else
  local limit, w = p1, p2
  local index = math.floor(now / w)
  if fresh then
    b = index - 2
  end
  if index ~= b then
    if index == b + 1 then c = a else c = 0 end
    a = 0
    b = index
  end
  local into = (now - index * w) / w
  local estimate = c * (1.0 - into) + a
  if estimate + 1.0 <= limit + 1e-9 then
    a = a + 1
    allowed = 1
  else
    if c > 0 then
      wait = math.min((estimate + 1.0 - limit) / c * w, (1.0 - into) * w)
    else
      wait = (1.0 - into) * w
    end
  end
end
redis.call('HSET', key, 'a', string.format('%.17g', a), 'b', string.format('%.17g', b), 'c', string.format('%.17g', c))
redis.call('PEXPIRE', key, idle_ms)
return {allowed, string.format('%.17g', math.max(wait, 0))}
"#;

/// Rate-limit state in Redis.
pub struct RedisStore {
    connection: Mutex<redis::Connection>,
    script: redis::Script,
    prefix: String,
    idle_after: Duration,
    clock: Option<Instant>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://127.0.0.1:6379`); keys are `prefix:key` and expire
    /// after `idle_after` unused.
    pub fn connect(
        url: &str,
        prefix: impl Into<String>,
        idle_after: Duration,
    ) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
        connection.set_read_timeout(Some(Duration::from_secs(2)))?;
        connection.set_write_timeout(Some(Duration::from_secs(2)))?;
        Ok(Self {
            connection: Mutex::new(connection),
            script: redis::Script::new(SCRIPT),
            prefix: prefix.into(),
            idle_after,
            clock: None,
        })
    }

    /// Uses `now - epoch` as the time instead of the server's clock (for tests that
    /// compare stores on the same arrivals).
    pub fn with_client_clock(mut self, epoch: Instant) -> Self {
        self.clock = Some(epoch);
        self
    }

    /// One decision; errors are Redis's (connection, script).
    pub fn try_decide(
        &self,
        key: &str,
        alg: &Algorithm,
        now: Instant,
    ) -> redis::RedisResult<Decision> {
        let (kind, p1, p2) = match *alg {
            Algorithm::TokenBucket { rate, burst } => ("token", rate, burst as f64),
            Algorithm::LeakyBucket { rate, capacity } => ("leaky", rate, capacity as f64),
            Algorithm::FixedWindow { limit, window } => {
                ("fixed", limit as f64, window.as_secs_f64())
            }
            Algorithm::SlidingWindow { limit, window } => {
                ("sliding", limit as f64, window.as_secs_f64())
            }
        };
        let at = match self.clock {
            Some(epoch) => now.saturating_duration_since(epoch).as_secs_f64(),
            None => -1.0,
        };
        let mut conn = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let (allowed, wait): (i64, String) = self
            .script
            .key(format!("{}:{key}", self.prefix))
            .arg(kind)
            .arg(format!("{p1:.17}"))
            .arg(format!("{p2:.17}"))
            .arg(self.idle_after.as_millis().max(1) as u64)
            .arg(format!("{at:.17}"))
            .invoke(&mut *conn)?;
        Ok(if allowed == 1 {
            Decision::Allow
        } else {
            Decision::Deny {
                retry_after: Duration::from_secs_f64(wait.parse::<f64>().unwrap_or(0.0).max(0.0)),
            }
        })
    }
}

impl Store for RedisStore {
    /// When Redis cannot be reached the call is allowed: the limiter protects the
    /// vendor, it must not take the service down with Redis (the breaker still guards).
    fn decide(&self, key: &str, alg: &Algorithm, now: Instant) -> Decision {
        match self.try_decide(key, alg, now) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "redis rate-limit store unreachable; allowing the call");
                metrics::counter!("acl_rate_limit_store_errors_total").increment(1);
                Decision::Allow
            }
        }
    }
}
