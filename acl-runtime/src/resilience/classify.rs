//! Failure classification: what went wrong with an outbound call, and what to do.
//!
//! The decision matrix: a timeout or a 5xx is transient (retry with backoff, count in
//! the breaker); a 429 is rate-limited (wait what the server says, then retry); another
//! 4xx is permanent (fail fast); a connection refused is transient but the request
//! provably never left; a body that breaks the contract is invalid data (dead-letter,
//! never retry).

use std::time::{Duration, SystemTime};

/// What kind of failure, as far as the caller's next move is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// May succeed if tried again later (timeouts, 5xx, connection errors).
    Transient,
    /// Will fail again (4xx other than 408/429): fail fast.
    Permanent,
    /// The server asked us to slow down; `retry_after` is its delay, when given.
    RateLimited {
        /// The delay the server asked for (already clamped).
        retry_after: Option<Duration>,
    },
    /// The response broke the contract: dead-letter it, do not retry.
    InvalidData,
}

impl FailureClass {
    /// Its name in metrics (`outcome`) and spans (`error.type`): `transient`,
    /// `permanent`, `rate_limited`, `invalid_data`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::Permanent => "permanent",
            FailureClass::RateLimited { .. } => "rate_limited",
            FailureClass::InvalidData => "invalid_data",
        }
    }

    /// Whether this class of failure may be retried at all.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureClass::Transient | FailureClass::RateLimited { .. }
        )
    }
}

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No response within the attempt's timeout.
    Timeout,
    /// The connection could not be made: the request never left.
    ConnectFailed,
    /// The connection broke after the request may have been sent.
    ConnectionReset,
    /// A response with this status.
    Status(u16),
    /// A response whose body does not fit the contract.
    InvalidData,
}

/// How to classify one attempt and whether it may be retried.
#[derive(Debug, Clone, Copy)]
pub struct Classifier {
    /// The longest `Retry-After` honoured; longer ones are clamped to it.
    pub max_retry_after: Duration,
}

impl Default for Classifier {
    fn default() -> Self {
        Self {
            max_retry_after: Duration::from_secs(60),
        }
    }
}

pub use acl_policy::Idempotency;

impl Classifier {
    /// Classifies one attempt. `retry_after` is the raw `Retry-After` header, if any.
    pub fn classify(
        &self,
        outcome: &Outcome,
        retry_after: Option<&str>,
        now: SystemTime,
    ) -> FailureClass {
        match outcome {
            Outcome::Timeout | Outcome::ConnectFailed | Outcome::ConnectionReset => {
                FailureClass::Transient
            }
            Outcome::InvalidData => FailureClass::InvalidData,
            Outcome::Status(429) => FailureClass::RateLimited {
                retry_after: retry_after
                    .and_then(|h| parse_retry_after(h, now))
                    .map(|d| d.min(self.max_retry_after)),
            },
            // 503 with Retry-After is the server saying when it will be back.
            Outcome::Status(503) if retry_after.is_some() => FailureClass::RateLimited {
                retry_after: retry_after
                    .and_then(|h| parse_retry_after(h, now))
                    .map(|d| d.min(self.max_retry_after)),
            },
            Outcome::Status(408) => FailureClass::Transient,
            Outcome::Status(s) if *s >= 500 => FailureClass::Transient,
            Outcome::Status(_) => FailureClass::Permanent,
        }
    }

    /// Whether a failed attempt may be retried, given how safe repeating the request is.
    /// A request that never left (connection refused) may always be retried.
    pub fn may_retry(
        &self,
        class: FailureClass,
        outcome: &Outcome,
        idempotency: Idempotency,
    ) -> bool {
        class.is_retryable()
            && (idempotency != Idempotency::Unsafe || *outcome == Outcome::ConnectFailed)
    }
}

/// Parses `Retry-After` in both forms: delay-seconds (`120`) and HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What the server says about its rate limit, read before the 429 arrives: the IETF
/// draft's `RateLimit` (`limit=100, remaining=0, reset=30`, or `"default";r=0;t=30`),
/// `RateLimit-Remaining` / `RateLimit-Reset` and `RateLimit-Policy` (`"burst";q=100;w=60`)
/// fields, or the legacy `X-RateLimit-*` headers.
/// [`System::observe_rate_limit`](crate::resilience::pipeline::System::observe_rate_limit) acts on
/// it: with nothing left, calls to the system wait for the reset instead of running
/// into the 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitHint {
    /// Requests allowed in the window.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub reset: Option<Duration>,
    /// The window's length (`RateLimit-Policy`'s `w`).
    pub window: Option<Duration>,
}

impl RateLimitHint {
    /// Reads the hint from response headers (`name`, `value` pairs, any case).
    /// `X-RateLimit-Reset` as an epoch timestamp (GitHub's form) is turned into a delay.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: SystemTime,
    ) -> Self {
        let mut hint = RateLimitHint::default();
        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let number = |v: &str| v.trim().trim_matches('"').parse::<u64>().ok();
        for (name, value) in headers {
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            let value = value.trim();
            if is("ratelimit") {
                for part in value.split([',', ';']) {
                    let Some((k, v)) = part.trim().split_once('=') else {
                        continue;
                    };
                    match k.trim() {
                        "limit" | "l" => hint.limit = number(v),
                        "remaining" | "r" => hint.remaining = number(v),
                        "reset" | "t" => hint.reset = number(v).map(Duration::from_secs),
                        _ => {}
                    }
                }
            } else if is("ratelimit-policy") {
                // The first policy: `"name";q=100;w=60`, or the older `100;w=60`.
                let first = value.split(',').next().unwrap_or_default();
                for (i, part) in first.split(';').enumerate() {
                    match part.trim().split_once('=') {
                        Some(("q", v)) => hint.limit = hint.limit.or(number(v)),
                        Some(("w", v)) => hint.window = number(v).map(Duration::from_secs),
                        None if i == 0 => hint.limit = hint.limit.or(number(part)),
                        _ => {}
                    }
                }
            } else if is("ratelimit-limit") || is("x-ratelimit-limit") {
                hint.limit = number(value);
            } else if is("ratelimit-remaining") || is("x-ratelimit-remaining") {
                hint.remaining = number(value);
            } else if is("ratelimit-reset") || is("x-ratelimit-reset") {
                hint.reset = number(value).map(|v| {
                    // Large values are epoch seconds, small ones are deltas.
                    if v > 1_000_000_000 {
                        Duration::from_secs(v.saturating_sub(now_secs))
                    } else {
                        Duration::from_secs(v)
                    }
                });
            }
        }
        hint
    }

    /// [`RateLimitHint::from_headers`] over a response's header map.
    pub fn from_header_map(headers: &http::HeaderMap, now: SystemTime) -> Self {
        Self::from_headers(
            headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))),
            now,
        )
    }

    /// How long to hold back the next call: until the reset when nothing remains.
    pub fn pause(&self) -> Option<Duration> {
        (self.remaining == Some(0)).then_some(self.reset.unwrap_or(Duration::from_secs(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn the_decision_matrix() {
        let c = Classifier::default();
        let now = at(1_445_412_000);
        assert_eq!(
            c.classify(&Outcome::Timeout, None, now),
            FailureClass::Transient
        );
        assert_eq!(
            c.classify(&Outcome::Status(502), None, now),
            FailureClass::Transient
        );
        assert_eq!(
            c.classify(&Outcome::Status(404), None, now),
            FailureClass::Permanent
        );
        assert_eq!(
            c.classify(&Outcome::Status(401), None, now),
            FailureClass::Permanent
        );
        assert_eq!(
            c.classify(&Outcome::InvalidData, None, now),
            FailureClass::InvalidData
        );
        assert_eq!(
            c.classify(&Outcome::Status(429), Some("7"), now),
            FailureClass::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            c.classify(&Outcome::Status(429), Some("3600"), now),
            FailureClass::RateLimited {
                retry_after: Some(Duration::from_secs(60))
            },
            "clamped"
        );
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn only_safe_requests_are_retried() {
        let c = Classifier::default();
        let t = FailureClass::Transient;
        assert!(c.may_retry(t, &Outcome::Status(503), Idempotency::of("GET", false)));
        assert!(!c.may_retry(t, &Outcome::Status(503), Idempotency::of("POST", false)));
        assert!(c.may_retry(t, &Outcome::Status(503), Idempotency::of("POST", true)));
        assert!(
            c.may_retry(t, &Outcome::ConnectFailed, Idempotency::of("POST", false)),
            "never left"
        );
        assert!(!c.may_retry(t, &Outcome::ConnectionReset, Idempotency::of("POST", false)));
        assert!(!c.may_retry(
            FailureClass::Permanent,
            &Outcome::Status(400),
            Idempotency::of("GET", false)
        ));
    }

    #[test]
    fn rate_limit_hints_from_draft_and_legacy_headers() {
        let now = at(1_700_000_000);
        let h =
            RateLimitHint::from_headers([("RateLimit", "limit=100, remaining=0, reset=30")], now);
        assert_eq!(
            h,
            RateLimitHint {
                limit: Some(100),
                remaining: Some(0),
                reset: Some(Duration::from_secs(30)),
                window: None,
            }
        );
        assert_eq!(h.pause(), Some(Duration::from_secs(30)));
        let g = RateLimitHint::from_headers(
            [
                ("X-RateLimit-Limit", "5000"),
                ("X-RateLimit-Remaining", "4999"),
                ("X-RateLimit-Reset", "1700000042"),
            ],
            now,
        );
        assert_eq!(g.reset, Some(Duration::from_secs(42)));
        assert_eq!(g.pause(), None);
        // The current draft: structured fields, quota and window from the policy.
        let d = RateLimitHint::from_headers(
            [
                ("ratelimit", r#""default";r=0;t=12"#),
                (
                    "RateLimit-Policy",
                    r#""default";q=100;w=60, "daily";q=1000;w=86400"#,
                ),
            ],
            now,
        );
        assert_eq!(
            d,
            RateLimitHint {
                limit: Some(100),
                remaining: Some(0),
                reset: Some(Duration::from_secs(12)),
                window: Some(Duration::from_secs(60)),
            }
        );
        let old = RateLimitHint::from_headers([("RateLimit-Policy", "10;w=1")], now);
        assert_eq!(
            (old.limit, old.window),
            (Some(10), Some(Duration::from_secs(1)))
        );
        // From a header map, as a client reads a response.
        let mut map = http::HeaderMap::new();
        map.insert("ratelimit-remaining", http::HeaderValue::from_static("0"));
        map.insert("ratelimit-reset", http::HeaderValue::from_static("3"));
        assert_eq!(
            RateLimitHint::from_header_map(&map, now).pause(),
            Some(Duration::from_secs(3))
        );
    }
}
