//! Policies from the contract: the `x-acl-*` extensions on the document and on each
//! operation, checked with the runtime's own settings types (so a contract that
//! generates is a contract whose client builds) and turned into the JSON the
//! generated client hands to `acl_runtime::client::ClientBuilder`.
//!
//! | extension | where | meaning |
//! |---|---|---|
//! | `x-acl-timeout: "5s"` | document, operation | per-attempt timeout |
//! | `x-acl-deadline: "30s"` | document, operation | the whole call, retries included |
//! | `x-acl-retry: "none"` or `{max_attempts, backoff, base, max_delay, jitter, max_total}` | document, operation | retries |
//! | `x-acl-idempotent: true/false` | operation | safe to repeat, whatever the method |
//! | `x-acl-idempotency-key: "Idempotency-Key"` | document, operation | header carrying a key per logical call |
//! | `x-acl-rate-limit: {per_second, burst}` | document | outbound limit of the system |
//! | `x-acl-breaker: {failure_rate, min_calls, ...}` | document | the system's breaker |

use serde_json::{json, Map, Value};

use super::Lowerer;
use crate::diagnostics::Severity;
use crate::ir::{Api, ParamLocation};
use acl_policy::{OperationConfig, SystemConfig};

const KNOWN: &[&str] = &[
    "x-acl-timeout",
    "x-acl-deadline",
    "x-acl-retry",
    "x-acl-idempotent",
    "x-acl-idempotency-key",
    "x-acl-rate-limit",
    "x-acl-breaker",
];

/// The settings of one level (document or operation) as `OperationConfig` JSON, and the
/// system settings (document only).
fn read_level(
    l: &mut Lowerer<'_>,
    doc: usize,
    base: &str,
    ext: &std::collections::BTreeMap<String, Value>,
    document: bool,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut op = Map::new();
    let mut system = Map::new();
    for (key, value) in ext {
        let loc = (doc, format!("{base}/{key}"));
        match key.as_str() {
            "x-acl-timeout" => {
                op.insert("timeout".into(), value.clone());
            }
            "x-acl-deadline" => {
                op.insert("deadline".into(), value.clone());
            }
            "x-acl-retry" => {
                let retry = match value {
                    Value::String(s) if s == "none" => json!({"max_attempts": 1}),
                    Value::Bool(false) => json!({"max_attempts": 1}),
                    Value::Object(_) => value.clone(),
                    _ => {
                        l.diag(
                            Severity::Error,
                            "bad-policy",
                            &loc,
                            "`x-acl-retry` must be \"none\" or an object of retry settings",
                            Some("e.g. {max_attempts: 3, backoff: exponential, base: 200ms}"),
                        );
                        continue;
                    }
                };
                op.insert("retry".into(), retry);
            }
            "x-acl-idempotent" if !document => match value {
                Value::Bool(_) => {
                    op.insert("idempotent".into(), value.clone());
                }
                _ => l.diag(
                    Severity::Error,
                    "bad-policy",
                    &loc,
                    "`x-acl-idempotent` must be true or false",
                    None,
                ),
            },
            "x-acl-idempotency-key" => {
                if !value.is_string() {
                    l.diag(
                        Severity::Error,
                        "bad-policy",
                        &loc,
                        "`x-acl-idempotency-key` must name a header",
                        Some("e.g. x-acl-idempotency-key: Idempotency-Key"),
                    );
                }
            }
            "x-acl-rate-limit" | "x-acl-breaker" if !document => l.diag(
                Severity::Warning,
                "policy-ignored",
                &loc,
                format!("`{key}` applies to the whole external system: set it on the document"),
                None,
            ),
            "x-acl-rate-limit" => {
                let obj = value.as_object();
                let per_second = obj.and_then(|o| o.get("per_second")).cloned();
                let burst = obj.and_then(|o| o.get("burst")).cloned();
                let extra: Vec<&String> = obj
                    .map(|o| {
                        o.keys()
                            .filter(|k| *k != "per_second" && *k != "burst")
                            .collect()
                    })
                    .unwrap_or_default();
                if per_second.is_none() || !extra.is_empty() {
                    l.diag(
                        Severity::Error,
                        "bad-policy",
                        &loc,
                        "`x-acl-rate-limit` takes {per_second, burst}",
                        Some("e.g. x-acl-rate-limit: {per_second: 20, burst: 40}"),
                    );
                    continue;
                }
                system.insert(
                    "rate_limit_per_second".into(),
                    per_second.unwrap_or_default(),
                );
                if let Some(b) = burst {
                    system.insert("rate_limit_burst".into(), b);
                }
            }
            "x-acl-breaker" => {
                system.insert("breaker".into(), value.clone());
            }
            other => {
                let help =
                    acl_policy::closest(other, KNOWN).map(|k| format!("did you mean `{k}`?"));
                l.diag(
                    Severity::Warning,
                    "unknown-extension",
                    &loc,
                    format!("`{other}` is not an acl extension and is ignored"),
                    help.as_deref(),
                );
            }
        }
    }
    (op, system)
}

/// Checks `settings` as the client will read them; reports what is wrong at `loc`.
fn check<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
    l: &mut Lowerer<'_>,
    loc: &(usize, String),
    layers: &[&Map<String, Value>],
) -> Option<T> {
    let mut value = serde_json::to_value(T::default()).ok()?;
    for layer in layers {
        acl_policy::merge_json(&mut value, &Value::Object((*layer).clone()));
    }
    match serde_json::from_value::<T>(value) {
        Ok(t) => Some(t),
        Err(e) => {
            l.diag(
                Severity::Error,
                "bad-policy",
                loc,
                format!("policy setting: {e}"),
                None,
            );
            None
        }
    }
}

/// Fills `api.policy` and each operation's `policy` and `idempotency_header`.
pub(super) fn lower_policies(l: &mut Lowerer<'_>, root: usize, api: &mut Api) {
    let (doc_op, doc_system) = read_level(l, root, "", &api.extensions.clone(), true);
    let doc_key = api
        .extensions
        .get("x-acl-idempotency-key")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(system) =
        check::<SystemConfig>(l, &(root, "/x-acl-rate-limit".into()), &[&doc_system])
    {
        if let Err(e) = system.validate() {
            l.diag(
                Severity::Error,
                "bad-policy",
                &(root, String::new()),
                format!("system policy `{}`: {}", e.path, e.message),
                None,
            );
        }
    }
    if !doc_op.is_empty() || !doc_system.is_empty() {
        api.policy = Some(json!({"system": doc_system, "operation": doc_op}));
    }
    for op in api.operations.iter_mut() {
        let base = op.origin.pointer.clone();
        let doc = op.origin.doc;
        let (own, _) = read_level(l, doc, &base, &op.extensions.clone(), false);
        op.idempotency_header = op
            .extensions
            .get("x-acl-idempotency-key")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| doc_key.clone())
            .or_else(|| {
                op.parameters
                    .iter()
                    .find(|p| {
                        p.location == ParamLocation::Header
                            && p.name.eq_ignore_ascii_case("idempotency-key")
                    })
                    .map(|p| p.name.clone())
            });
        if let Some(config) = check::<OperationConfig>(l, &(doc, base.clone()), &[&doc_op, &own]) {
            let config = OperationConfig {
                idempotency_key: op.idempotency_header.is_some(),
                ..config
            };
            if let Err(e) = config.validate() {
                l.diag(
                    Severity::Error,
                    "bad-policy",
                    &(doc, base.clone()),
                    format!("policy `{}`: {}", e.path, e.message),
                    Some("every outbound call needs a timeout above zero and at least one attempt"),
                );
            }
        }
        if !own.is_empty() {
            op.policy = Some(Value::Object(own));
        }
    }
}
