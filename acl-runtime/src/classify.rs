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

/// Whether repeating a request is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, HEAD, PUT, DELETE, OPTIONS, TRACE, or marked idempotent by the contract.
    Idempotent,
    /// POST/PATCH carrying an idempotency key reused across attempts.
    Keyed,
    /// Not safe to repeat unless the request provably never left.
    Unsafe,
}

impl Idempotency {
    /// From the HTTP method and whether an idempotency key is sent.
    pub fn of(method: &str, has_key: bool) -> Self {
        match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE" => Idempotency::Idempotent,
            _ if has_key => Idempotency::Keyed,
            _ => Idempotency::Unsafe,
        }
    }
}

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
/// draft's `RateLimit` (`limit=100, remaining=0, reset=30`) or `RateLimit-Remaining` /
/// `RateLimit-Reset` fields, or the legacy `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitHint {
    /// Requests allowed in the window.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub reset: Option<Duration>,
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
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let value = value.trim();
            match name.as_str() {
                "ratelimit" => {
                    for part in value.split([',', ';']) {
                        let Some((k, v)) = part.trim().split_once('=') else {
                            continue;
                        };
                        let v: Option<u64> = v.trim().trim_matches('"').parse().ok();
                        match k.trim() {
                            "limit" | "l" => hint.limit = v,
                            "remaining" | "r" => hint.remaining = v,
                            "reset" | "t" => hint.reset = v.map(Duration::from_secs),
                            _ => {}
                        }
                    }
                }
                "ratelimit-limit" | "x-ratelimit-limit" => hint.limit = value.parse().ok(),
                "ratelimit-remaining" | "x-ratelimit-remaining" => {
                    hint.remaining = value.parse().ok()
                }
                "ratelimit-reset" | "x-ratelimit-reset" => {
                    hint.reset = value.parse::<u64>().ok().map(|v| {
                        // Large values are epoch seconds, small ones are deltas.
                        if v > 1_000_000_000 {
                            Duration::from_secs(v.saturating_sub(now_secs))
                        } else {
                            Duration::from_secs(v)
                        }
                    })
                }
                _ => {}
            }
        }
        hint
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
                reset: Some(Duration::from_secs(30))
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
    }
}
