//! One operation's settings: timeout, deadline, retries, idempotency, body limit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{duration, err, ConfigError, RetryConfig};

/// One operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperationConfig {
    /// Per attempt (default 10 s). Never zero: every outbound call has a timeout.
    #[serde(with = "duration::text")]
    pub timeout: Duration,
    /// The whole call, retries and waits included (default 30 s).
    #[serde(with = "duration::text")]
    pub deadline: Duration,
    /// Retries; `"none"` for a single attempt.
    #[serde(deserialize_with = "crate::retry::none_or_settings")]
    pub retry: RetryConfig,
    /// Safe to repeat, whatever the method (default: from the method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// The header carrying an idempotency key, one per logical call and reused by its
    /// retries (`Idempotency-Key`). Default: the header the contract declares, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The largest response body read, in bytes (default 64 MiB). A larger one is an
    /// invalid body naming the size, never read whole: a vendor (or whoever answers in
    /// its place) must not be able to exhaust the service's memory.
    pub max_response_body: u64,
}

/// The default of [`OperationConfig::max_response_body`].
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 64 << 20;

impl Default for OperationConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            retry: RetryConfig::default(),
            idempotent: None,
            idempotency_key: None,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }
}

impl OperationConfig {
    /// Checks the settings: every outbound call has a timeout above zero, within its
    /// deadline, and at least one attempt.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return Err(err(
                "timeout",
                "must be longer than zero: every outbound call needs one",
            ));
        }
        if self.deadline < self.timeout {
            return Err(err("deadline", "must not be shorter than the timeout"));
        }
        if self.max_response_body == 0 {
            return Err(err("max_response_body", "must be more than zero"));
        }
        if self.idempotency_key.as_deref().is_some_and(|h| {
            h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        }) {
            return Err(err(
                "idempotency_key",
                "must be a header name (letters, digits, `-`)",
            ));
        }
        self.retry.validate()
    }

    /// How repeating the operation stands: marked idempotent (or not), a method that
    /// is (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), a request carrying a key.
    pub fn idempotency(&self, method: &str) -> Idempotency {
        let keyed = self.idempotency_key.is_some();
        match self.idempotent {
            Some(true) => Idempotency::Idempotent,
            Some(false) if keyed => Idempotency::Keyed,
            Some(false) => Idempotency::Unsafe,
            None => Idempotency::of(method, keyed),
        }
    }

    /// Whether repeating the operation is safe.
    pub fn safe_to_repeat(&self, method: &str) -> bool {
        self.idempotency(method) != Idempotency::Unsafe
    }
}

/// Whether a retried request can do its work twice.
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
