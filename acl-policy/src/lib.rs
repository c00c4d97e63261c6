//! acl's policies as plain data: the one settings model that a service's configuration,
//! the contract's `x-acl-*` extensions, `#[derive(Policies)]` and the runtime all read.
//! Every field has a default; `validate` says which value is wrong.
//!
//! Its own crate so that the code generator and the derive macros check settings
//! without depending on the runtime (which builds breakers, budgets and pipelines from
//! these in `acl_runtime::resilience::config`).
//!
//! # One vocabulary
//!
//! A setting has one name everywhere: the serde field name here is the derive's key and,
//! at the top level, the contract extension `x-acl-` + the name with `-` for `_`.
//!
//! | setting | derive | contract | where |
//! |---|---|---|---|
//! | [`OperationConfig::timeout`] | `timeout = "5s"` | `x-acl-timeout: 5s` | operation, defaults |
//! | [`OperationConfig::deadline`] | `deadline = "30s"` | `x-acl-deadline: 30s` | operation, defaults |
//! | [`OperationConfig::retry`] | `retry(max_attempts = 3, ...)`, `retry = "none"` | `x-acl-retry: {max_attempts: 3}`, `none` | operation, defaults |
//! | [`OperationConfig::idempotent`] | `idempotent = true` | `x-acl-idempotent: true` | operation |
//! | [`OperationConfig::idempotency_key`] | `idempotency_key = "Idempotency-Key"` | `x-acl-idempotency-key: Idempotency-Key` | operation, defaults |
//! | [`OperationConfig::max_response_body`] | `max_response_body = 1048576` | `x-acl-max-response-body: 1048576` | operation, defaults |
//! | [`SystemConfig::breaker`] | `breaker(failure_rate = 0.5, ...)`, `breaker = "off"` | `x-acl-breaker: {...}`, `off` | system |
//! | [`SystemConfig::retry_budget`] | `retry_budget(ratio = 0.2, min_per_second = 10)` | `x-acl-retry-budget: {...}` | system |
//! | [`SystemConfig::rate_limit`] | `rate_limit(per_second = 20, burst = 40)`, `rate_limit = "off"` | `x-acl-rate-limit: {...}`, `off` | system |
//! | [`SystemConfig::fast_clock`] | `fast_clock = true` | `x-acl-fast-clock: true` | system |
//!
//! Inside `retry`: `max_attempts`, `max_total`, `backoff` (`exponential`, `linear`,
//! `fixed`), `multiplier`, `base`, `max_delay`, `jitter` (`full`, `equal`,
//! `decorrelated`, `none`). Inside `breaker`: `window` (a number of calls or a
//! duration), `failure_rate`, `slow_call_rate`, `slow_call_duration`, `min_calls`,
//! `consecutive_failures`, `open_for`, `open_multiplier`, `max_open_for`,
//! `half_open_calls`. Durations are written `"250ms"`, `"10s"`, `"5m"`, `"1h"`.
//!
//! Adding a setting: a field (with its default and its check) in this crate and a row
//! in the table above. The derive, the contract extensions and the runtime's layering
//! read the names from here.
#![deny(missing_docs)]

pub mod duration;
pub mod pattern;

mod breaker;
mod operation;
mod retry;
mod switch;
mod system;

pub use breaker::{BreakerConfig, Window};
pub use duration::{format_duration, parse_duration};
pub use operation::{Idempotency, OperationConfig, DEFAULT_MAX_RESPONSE_BODY};
pub use retry::{BackoffKind, Jitter, RetryConfig};
pub use system::{RateLimitConfig, RetryBudgetConfig, SystemConfig, DEFAULT_RATE_LIMIT_PER_SECOND};

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// A configuration value that cannot work, with the path of the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Which setting (`retry.max_attempts`).
    pub path: String,
    /// Why.
    pub message: String,
}

/// An error for the setting at `path`.
pub fn err(path: &str, e: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// The top-level settings of an operation ([`OperationConfig`]).
pub const OPERATION_KEYS: &[&str] = &[
    "timeout",
    "deadline",
    "retry",
    "idempotent",
    "idempotency_key",
    "max_response_body",
];

/// The top-level settings of an external system ([`SystemConfig`]).
pub const SYSTEM_KEYS: &[&str] = &["breaker", "retry_budget", "rate_limit", "fast_clock"];

/// The contract extension of a top-level setting: `rate_limit` → `x-acl-rate-limit`.
pub fn extension_name(key: &str) -> String {
    format!("x-acl-{}", key.replace('_', "-"))
}

/// The setting an `x-acl-*` extension names, if it is one: `x-acl-rate-limit` →
/// `rate_limit`.
pub fn extension_key(extension: &str) -> Option<&'static str> {
    let rest = extension.strip_prefix("x-acl-")?;
    OPERATION_KEYS
        .iter()
        .chain(SYSTEM_KEYS)
        .find(|k| k.replace('_', "-") == rest)
        .copied()
}

/// `base` with `layers` (JSON objects of settings, in this crate's names) laid over it,
/// later wins, objects merged key by key. The error names the setting (`retry.jitter`)
/// and, for a misspelt one, the closest known name.
pub fn layered<T: Serialize + DeserializeOwned>(
    base: &T,
    layers: &[&Value],
) -> Result<T, ConfigError> {
    let mut value = serde_json::to_value(base).map_err(|e| err(".", e))?;
    for layer in layers {
        merge_json(&mut value, layer);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = with_hint(&e.inner().to_string());
        ConfigError { path, message }
    })
}

/// serde's "unknown field `x`, expected one of `a`, `b`" as "unknown setting `x`; did
/// you mean `a`?" (or the list, when nothing is close).
fn with_hint(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((word, known)) = rest.split_once('`') else {
        return message.to_string();
    };
    let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
    match closest(word, &known) {
        Some(k) => format!("unknown setting `{word}`; did you mean `{k}`?"),
        None => format!(
            "unknown setting `{word}` (expected one of: {})",
            known.join(", ")
        ),
    }
}

/// The closest of `known` to `word` (edit distance, case-insensitive), when it is
/// close enough to be a typo: for "did you mean" help.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + (ca != *cb) as usize).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(&word.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

/// Lays `from` over `into`: objects merge key by key (recursively), anything else is
/// replaced. How settings layers combine (defaults, contract extensions, code).
pub fn merge_json(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) => merge_json(slot, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    /// The names serde knows at the top of `T`, from its unknown-field message.
    fn serde_keys<T: DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
        let e = serde_json::from_value::<T>(json!({"\u{1}": 0})).unwrap_err();
        let text = e.to_string();
        let list = text.split("expected one of ").nth(1).unwrap();
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_key_lists_are_the_serde_names() {
        assert_eq!(serde_keys::<OperationConfig>(), OPERATION_KEYS);
        assert_eq!(serde_keys::<SystemConfig>(), SYSTEM_KEYS);
        assert_eq!(extension_key("x-acl-rate-limit"), Some("rate_limit"));
        assert_eq!(
            extension_name("max_response_body"),
            "x-acl-max-response-body"
        );
        assert_eq!(extension_key("x-acl-ratelimit"), None);
        assert_eq!(extension_key("x-other"), None);
    }

    #[test]
    fn checks_name_the_setting_and_repeat_safety_follows_method_mark_and_key() {
        let mut c = OperationConfig::default();
        assert!(c.validate().is_ok());
        c.retry.multiplier = 0.5;
        assert_eq!(c.validate().unwrap_err().path, "retry.multiplier");
        let c = OperationConfig {
            deadline: Duration::from_secs(1),
            ..OperationConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().path, "deadline");
        let mut s = SystemConfig::default();
        s.breaker.as_mut().unwrap().failure_rate = 1.5;
        assert_eq!(s.validate().unwrap_err().path, "breaker.failure_rate");
        s.breaker = None;
        assert!(s.validate().is_ok(), "no breaker, nothing to check");
        let mut c = OperationConfig::default();
        assert!(c.safe_to_repeat("GET") && !c.safe_to_repeat("POST"));
        c.idempotency_key = Some("Idempotency-Key".into());
        assert_eq!(c.idempotency("POST"), Idempotency::Keyed);
        c = OperationConfig {
            idempotent: Some(false),
            ..OperationConfig::default()
        };
        assert!(!c.safe_to_repeat("GET"));
        c.idempotency_key = Some("Bad Header".into());
        assert_eq!(c.validate().unwrap_err().path, "idempotency_key");
        assert_eq!(
            closest("max_attempt", &["max_attempts", "jitter"]),
            Some("max_attempts")
        );
        assert_eq!(closest("zzz", &["max_attempts"]), None);
    }

    #[test]
    fn layers_merge_read_the_words_and_name_what_is_wrong() {
        let base = OperationConfig::default();
        let c: OperationConfig = layered(
            &base,
            &[
                &json!({"timeout": "5s", "retry": {"max_attempts": 5, "jitter": "equal"}}),
                &json!({"retry": {"backoff": "linear"}}),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.timeout, c.deadline, c.retry.max_attempts),
            (Duration::from_secs(5), Duration::from_secs(30), 5)
        );
        assert_eq!(
            (c.retry.jitter, c.retry.backoff),
            (Jitter::Equal, BackoffKind::Linear)
        );
        let none: OperationConfig = layered(&base, &[&json!({"retry": "none"})]).unwrap();
        assert_eq!(none.retry, RetryConfig::none());
        let none: OperationConfig = layered(&base, &[&json!({"retry": false})]).unwrap();
        assert_eq!(none.retry.max_attempts, 1);
        let none: OperationConfig = layered(&base, &[&json!({"retry": null})]).unwrap();
        assert_eq!(none.retry.max_attempts, 1);
        let e = layered(&base, &[&json!({"retry": true})]).unwrap_err();
        assert!(e.message.contains("\"none\" or an object"), "{e}");

        let e = layered(&base, &[&json!({"retry": {"jitter": "some"}})]).unwrap_err();
        assert_eq!(e.path, "retry.jitter");
        assert!(e.message.contains("unknown variant `some`"), "{e}");
        let e = layered(&base, &[&json!({"timeot": "1s"})]).unwrap_err();
        assert_eq!(
            e.message, "unknown setting `timeot`; did you mean `timeout`?",
            "{e}"
        );
        let e = layered(&base, &[&json!({"retry": {"max_attempt": 2}})]).unwrap_err();
        assert!(e.path.starts_with("retry"), "{e}");
        assert!(e.message.contains("did you mean `max_attempts`?"), "{e}");
        let e = layered(&base, &[&json!({"timeout": "soon"})]).unwrap_err();
        assert_eq!(e.path, "timeout");
        let e = layered(&base, &[&json!({"retry": "sometimes"})]).unwrap_err();
        assert!(e.message.contains("\"none\" or an object"), "{e}");

        let s = SystemConfig::default();
        let off: SystemConfig =
            layered(&s, &[&json!({"breaker": "off", "rate_limit": "off"})]).unwrap();
        assert_eq!((off.breaker, off.rate_limit), (None, None));
        // Settings after "off" turn it back on, from the defaults.
        let on: SystemConfig = layered(
            &off_system(),
            &[&json!({"breaker": {"window": "30s", "min_calls": 5}})],
        )
        .unwrap();
        let b = on.breaker.unwrap();
        assert_eq!(
            (b.window, b.min_calls, b.half_open_calls),
            (Window::Time(Duration::from_secs(30)), 5, 10)
        );
        let counted: SystemConfig = layered(&s, &[&json!({"breaker": {"window": 20}})]).unwrap();
        assert_eq!(counted.breaker.unwrap().window, Window::Calls(20));
        let e = layered(&s, &[&json!({"breaker": {"window": -1}})]).unwrap_err();
        assert_eq!(e.path, "breaker.window");
        let limited: SystemConfig =
            layered(&s, &[&json!({"rate_limit": {"per_second": 2.5}})]).unwrap();
        assert_eq!(limited.rate_limit.unwrap().burst(), 3);
    }

    fn off_system() -> SystemConfig {
        SystemConfig {
            breaker: None,
            ..SystemConfig::default()
        }
    }

    #[test]
    fn defaults_round_trip_through_their_text() {
        let o = OperationConfig {
            idempotency_key: Some("Idempotency-Key".into()),
            idempotent: Some(true),
            ..OperationConfig::default()
        };
        assert_eq!(
            layered(
                &OperationConfig::default(),
                &[&serde_json::to_value(&o).unwrap()]
            ),
            Ok(o)
        );
        for s in [SystemConfig::default(), off_system()] {
            let back: SystemConfig =
                serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
    }
}
