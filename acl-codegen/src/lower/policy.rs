//! Policies from the contract: the `x-acl-*` extensions on the document and on each
//! operation, read in acl-policy's vocabulary (`x-acl-rate-limit` is the setting
//! `rate_limit`, and so on: the table in acl-policy's docs), checked with the runtime's
//! own settings types (so a contract that generates is a contract whose client builds)
//! and turned into the JSON the generated client hands to
//! `acl_runtime::client::ClientBuilder`.
//!
//! Operation settings (`x-acl-timeout`, `x-acl-deadline`, `x-acl-retry`,
//! `x-acl-idempotent`, `x-acl-idempotency-key`, `x-acl-max-response-body`) go on the
//! document (every operation) or on an operation; system settings (`x-acl-breaker`,
//! `x-acl-retry-budget`, `x-acl-rate-limit`, `x-acl-fast-clock`) on the document only.

use serde_json::{json, Map, Value};

use super::Lowerer;
use crate::diagnostics::Severity;
use crate::ir::{Api, ParamLocation};
use acl_policy::{ConfigError, OperationConfig, SystemConfig, OPERATION_KEYS, SYSTEM_KEYS};

/// The settings of one level (document or operation) as `OperationConfig` JSON, and the
/// system settings (document only), in acl-policy's names.
fn read_level(
    l: &mut Lowerer<'_>,
    doc: usize,
    base: &str,
    ext: &std::collections::BTreeMap<String, Value>,
    document: bool,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut op = Map::new();
    let mut system = Map::new();
    for (name, value) in ext {
        // Pagination (`lower::pagination`) and event names (`lower::openapi`) are not
        // policies.
        if !name.starts_with("x-acl-")
            || name == super::pagination::EXTENSION
            || name == super::openapi::EVENT_NAME
        {
            continue;
        }
        let loc = (doc, format!("{base}/{name}"));
        if let Some(why) = weakens(name, value) {
            l.diag(
                Severity::Warning,
                "policy-weakened",
                &loc,
                format!("`{name}` {why}"),
                Some("contracts come from outside: if this is not your own overlay, set the policy in code (`Builder`/`#[derive(Policies)]`), which wins"),
            );
        }
        match acl_policy::extension_key(name) {
            Some(key) if OPERATION_KEYS.contains(&key) => {
                op.insert(key.into(), value.clone());
            }
            Some(_) if !document => l.diag(
                Severity::Warning,
                "policy-ignored",
                &loc,
                format!("`{name}` applies to the whole external system: set it on the document"),
                None,
            ),
            Some(key) => {
                system.insert(key.into(), value.clone());
            }
            None => {
                let known: Vec<String> = OPERATION_KEYS
                    .iter()
                    .chain(SYSTEM_KEYS)
                    .map(|k| acl_policy::extension_name(k))
                    .collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                let help =
                    acl_policy::closest(name, &known).map(|k| format!("did you mean `{k}`?"));
                l.diag(
                    Severity::Warning,
                    "unknown-extension",
                    &loc,
                    format!("`{name}` is not an acl extension and is ignored"),
                    help.as_deref(),
                );
            }
        }
    }
    (op, system)
}

/// Whether the extension `name` takes away a protection every outbound call has by
/// default, and how: a contract can carry `x-acl-*` written by whoever published it.
fn weakens(name: &str, value: &Value) -> Option<&'static str> {
    let off = matches!(value, Value::Bool(false) | Value::Null) || value.as_str() == Some("off");
    match name {
        "x-acl-breaker" if off => Some("switches the circuit breaker off"),
        "x-acl-rate-limit" if off => Some("switches the outbound rate limit off"),
        "x-acl-max-response-body"
            if value
                .as_u64()
                .is_some_and(|n| n > acl_policy::DEFAULT_MAX_RESPONSE_BODY) =>
        {
            Some("raises the largest response body read above acl's default (64 MiB)")
        }
        _ => None,
    }
}

/// Where a setting's error points: the extension that wrote it (and the key inside it,
/// when that key is there), else the level's object.
fn pointer_of(
    base: &str,
    ext: &std::collections::BTreeMap<String, Value>,
    e: &ConfigError,
) -> String {
    let mut parts = e.path.split('.').filter(|p| !p.is_empty());
    let Some(first) = parts.next() else {
        return base.to_string();
    };
    let name = acl_policy::extension_name(first);
    let Some(mut value) = ext.get(&name) else {
        return base.to_string();
    };
    let mut pointer = format!("{base}/{name}");
    for part in parts {
        match value.get(part) {
            Some(v) => {
                pointer.push('/');
                pointer.push_str(&crate::load::escape(part));
                value = v;
            }
            None => break,
        }
    }
    pointer
}

/// One level of settings: where it is written, its extensions, its settings.
struct Level<'a> {
    doc: usize,
    base: &'a str,
    ext: &'a std::collections::BTreeMap<String, Value>,
    settings: &'a Map<String, Value>,
}

/// Checks `layers` as the client will read them and then `validate`s them; reports the
/// first thing wrong at the extension that wrote it.
fn check<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
    l: &mut Lowerer<'_>,
    levels: &[Level<'_>],
    validate: impl Fn(&T) -> Result<(), ConfigError>,
) -> Option<T> {
    let layers: Vec<Value> = levels
        .iter()
        .map(|level| Value::Object(level.settings.clone()))
        .collect();
    let refs: Vec<&Value> = layers.iter().collect();
    let result = acl_policy::layered(&T::default(), &refs).and_then(|t| validate(&t).map(|_| t));
    match result {
        Ok(t) => Some(t),
        Err(e) => {
            // The last level that wrote the setting is the one to blame.
            let first = e.path.split('.').next().unwrap_or_default();
            let level = levels
                .iter()
                .rev()
                .find(|level| level.settings.contains_key(first))
                .or(levels.last())?;
            l.diag(
                Severity::Error,
                "bad-policy",
                &(level.doc, pointer_of(level.base, level.ext, &e)),
                format!("policy `{}`: {}", e.path, e.message),
                Some("settings and their values are listed in acl-policy's crate docs (and the README's policy table)"),
            );
            None
        }
    }
}

/// Fills `api.policy` and each operation's `policy` and `idempotency_header`.
pub(super) fn lower_policies(l: &mut Lowerer<'_>, root: usize, api: &mut Api) {
    let doc_ext = api.extensions.clone();
    let (doc_op, doc_system) = read_level(l, root, "", &doc_ext, true);
    let doc_key = doc_ext
        .get("x-acl-idempotency-key")
        .and_then(Value::as_str)
        .map(str::to_string);
    let document = |settings| Level {
        doc: root,
        base: "",
        ext: &doc_ext,
        settings,
    };
    check::<SystemConfig>(l, &[document(&doc_system)], SystemConfig::validate);
    // Settings for every operation that cannot work are reported once, on the document.
    let doc_ok =
        check::<OperationConfig>(l, &[document(&doc_op)], OperationConfig::validate).is_some();
    if !doc_op.is_empty() || !doc_system.is_empty() {
        api.policy = Some(json!({"system": doc_system, "operation": doc_op}));
    }
    for op in api.operations.iter_mut() {
        let base = op.origin.pointer.clone();
        let doc = op.origin.doc;
        let op_ext = op.extensions.clone();
        let (own, _) = read_level(l, doc, &base, &op_ext, false);
        op.idempotency_header = op_ext
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
        let declared = op.idempotency_header.clone();
        let levels = [
            document(&doc_op),
            Level {
                doc,
                base: &base,
                ext: &op_ext,
                settings: &own,
            },
        ];
        if doc_ok {
            check::<OperationConfig>(l, &levels, |c| {
                let mut c = c.clone();
                if c.idempotency_key.is_none() {
                    c.idempotency_key = declared.clone();
                }
                c.validate()
            });
        }
        if !own.is_empty() {
            op.policy = Some(Value::Object(own));
        }
    }
}
