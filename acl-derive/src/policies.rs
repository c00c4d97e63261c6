//! `#[derive(Policies)]`: attributes → checked against the contract → an impl of
//! `acl_runtime::client::Policies`. Checks run on the same settings types the client
//! builds from (`acl-policy`), layered as the client layers them: acl's defaults, then
//! `default(...)`, then the contract's `x-acl-*`, then `op(...)`.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::Value;
use syn::DeriveInput;

use crate::attr::{self, Breaker, Errors, Retry, Settings};
use acl_policy::{BreakerSettings, OperationConfig};

/// The contract as far as policies care.
struct ContractOp {
    id: String,
    method: String,
    policy: Option<Value>,
    idempotency_header: Option<String>,
}

struct Contract {
    files: Vec<PathBuf>,
    doc_operation: Option<Value>,
    ops: Vec<ContractOp>,
}

fn manifest_dir() -> PathBuf {
    // trybuild runs UI tests from a scratch crate; the tests point back with this.
    std::env::var_os("ACL_MANIFEST_DIR_OVERRIDE")
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn load(lit: &syn::LitStr, errors: &mut Errors) -> Option<Contract> {
    let path = manifest_dir().join(lit.value());
    let settings = acl_codegen::Settings {
        client: false,
        embed_contract: false,
        ..acl_codegen::Settings::default()
    };
    let g = match acl_codegen::Generator::new(settings).read(&path) {
        Ok(g) => g,
        Err(e) => {
            errors.push(
                lit.span(),
                format!("cannot read the contract `{}`: {e}", lit.value()),
            );
            return None;
        }
    };
    if g.diagnostics.errors() > 0 {
        let shown: Vec<String> = g
            .diagnostics
            .items()
            .iter()
            .filter(|d| d.severity == acl_codegen::Severity::Error)
            .take(5)
            .map(ToString::to_string)
            .collect();
        errors.push(
            lit.span(),
            format!(
                "the contract `{}` has errors:\n{}",
                lit.value(),
                shown.join("\n")
            ),
        );
        return None;
    }
    Some(Contract {
        files: g.files.clone(),
        doc_operation: g
            .api
            .policy
            .as_ref()
            .and_then(|p| p.get("operation").cloned()),
        ops: g
            .api
            .operations
            .iter()
            .map(|o| ContractOp {
                id: o.id.clone(),
                method: o.method.key().to_ascii_uppercase(),
                policy: o.policy.clone(),
                idempotency_header: o.idempotency_header.clone(),
            })
            .collect(),
    })
}

/// `config` with the contract's settings laid over it.
fn overlay(config: &OperationConfig, layer: Option<&Value>) -> OperationConfig {
    let Some(layer) = layer else {
        return config.clone();
    };
    let mut v = serde_json::to_value(config).expect("settings serialise");
    acl_policy::merge_json(&mut v, layer);
    serde_json::from_value(v).unwrap_or_else(|_| config.clone())
}

/// Applies one level of the derive's settings.
fn apply(s: &Settings, c: &mut OperationConfig) {
    if let Some(t) = &s.timeout {
        c.timeout = t.value;
    }
    if let Some(d) = &s.deadline {
        c.deadline = d.value;
    }
    match &s.retry {
        Some(Retry::None(_)) => c.retry.max_attempts = 1,
        Some(Retry::Settings {
            max_attempts,
            max_total,
            backoff,
            base,
            max_delay,
            jitter,
            ..
        }) => {
            if let Some(v) = max_attempts {
                c.retry.max_attempts = v.value;
            }
            if let Some(v) = max_total {
                c.retry.max_total = v.value;
            }
            if let Some(v) = backoff {
                c.retry.backoff = v.value.clone();
            }
            if let Some(v) = base {
                c.retry.base = v.value;
            }
            if let Some(v) = max_delay {
                c.retry.max_delay = v.value;
            }
            if let Some(v) = jitter {
                c.retry.jitter = v.value.clone();
            }
        }
        None => {}
    }
    if let Some(k) = &s.idempotency_key {
        c.idempotency_header = Some(k.value());
    }
    if let Some(i) = &s.idempotent {
        c.idempotent = Some(i.value);
    }
}

/// The span of the setting a `ConfigError` path names.
fn span_of(s: &Settings, fallback: Span, path: &str) -> Span {
    let retry_span = |key: &str| match &s.retry {
        Some(Retry::Settings {
            span,
            max_attempts,
            max_total,
            backoff,
            base,
            max_delay,
            jitter,
        }) => match key {
            "max_attempts" => max_attempts.as_ref().map(|v| v.span),
            "max_total" => max_total.as_ref().map(|v| v.span),
            "backoff" => backoff.as_ref().map(|v| v.span),
            "base" => base.as_ref().map(|v| v.span),
            "max_delay" => max_delay.as_ref().map(|v| v.span),
            "jitter" => jitter.as_ref().map(|v| v.span),
            _ => None,
        }
        .or(Some(*span)),
        Some(Retry::None(span)) => Some(*span),
        None => None,
    };
    match path {
        "timeout" => s.timeout.as_ref().map(|t| t.span),
        "deadline" => s
            .deadline
            .as_ref()
            .map(|t| t.span)
            .or(s.timeout.as_ref().map(|t| t.span)),
        p if p.starts_with("retry.") => retry_span(&p["retry.".len()..]),
        "retry" => retry_span(""),
        _ => None,
    }
    .unwrap_or(fallback)
}

/// The system's settings as assignments, checked on the way.
fn system_settings(default: Option<&Settings>, errors: &mut Errors) -> TokenStream {
    // Only the breaker needs the whole value to be checked; the rest is checked here.
    let mut breaker = BreakerSettings::default();
    let mut code = Vec::new();
    let Some(d) = default else {
        return TokenStream::new();
    };
    match &d.breaker {
        Some(Breaker::Off) => {
            // A breaker that never trips: the window can never hold this many calls.
            code.push(quote! {
                s.breaker.min_calls = u32::MAX;
                s.breaker.consecutive_failures = ::std::option::Option::None;
            });
        }
        Some(Breaker::Settings {
            span,
            failure_rate,
            slow_call_rate,
            slow_call_duration,
            min_calls,
            window_calls,
            window_time,
            open_for,
            open_multiplier,
            half_open_calls,
            consecutive_failures,
        }) => {
            let b = &mut breaker;
            macro_rules! set {
                ($field:ident, $src:expr, $tok:expr) => {
                    if let Some(v) = $src {
                        b.$field = v.value.clone().into();
                        let t = $tok(&v.value);
                        code.push(quote!(s.breaker.$field = #t;));
                    }
                };
            }
            let float = |v: &f64| quote!(#v);
            let int = |v: &u32| quote!(#v);
            let dur = |v: &std::time::Duration| {
                let n = v.as_nanos() as u64;
                quote!(::std::time::Duration::from_nanos(#n))
            };
            set!(failure_rate, failure_rate, float);
            set!(slow_call_rate, slow_call_rate, float);
            set!(slow_call_duration, slow_call_duration, dur);
            set!(min_calls, min_calls, int);
            set!(window_calls, window_calls, int);
            set!(open_for, open_for, dur);
            set!(open_multiplier, open_multiplier, float);
            set!(half_open_permits, half_open_calls, int);
            if let Some(v) = window_time {
                b.window_time = Some(v.value);
                let t = dur(&v.value);
                code.push(quote!(s.breaker.window_time = ::std::option::Option::Some(#t);));
            }
            if let Some(v) = consecutive_failures {
                b.consecutive_failures = Some(v.value);
                let n = v.value;
                code.push(
                    quote!(s.breaker.consecutive_failures = ::std::option::Option::Some(#n);),
                );
            }
            if let Err(e) = breaker.validate() {
                let at = match e.path.as_str() {
                    "breaker.failure_rate" => failure_rate.as_ref().map(|v| v.span),
                    "breaker.slow_call_rate" => slow_call_rate.as_ref().map(|v| v.span),
                    "breaker.min_calls" => min_calls.as_ref().map(|v| v.span),
                    "breaker.open_for" => open_for.as_ref().map(|v| v.span),
                    "breaker.half_open_permits" => half_open_calls.as_ref().map(|v| v.span),
                    "breaker.open_multiplier" => open_multiplier.as_ref().map(|v| v.span),
                    "breaker.window_calls" => window_calls.as_ref().map(|v| v.span),
                    "breaker.consecutive_failures" => consecutive_failures.as_ref().map(|v| v.span),
                    _ => None,
                }
                .unwrap_or(*span);
                errors.push(
                    at,
                    format!("{}: {}", e.path.trim_start_matches("breaker."), e.message),
                );
            }
        }
        None => {}
    }
    if let Some(r) = &d.rate_limit {
        match &r.per_second {
            Some(p) => {
                let v = p.value;
                code.push(quote!(s.rate_limit_per_second = ::std::option::Option::Some(#v);));
                if !(p.value.is_finite() && p.value > 0.0) {
                    errors.push(p.span, "per_second: the rate must be above zero");
                }
            }
            None => errors.push(r.span, "`rate_limit` needs `per_second`"),
        }
        if let Some(b) = &r.burst {
            let v = b.value;
            code.push(quote!(s.rate_limit_burst = #v;));
            if b.value == 0 {
                errors.push(b.span, "burst: must be at least 1");
            }
        }
    }
    quote!(#(#code)*)
}

/// Assignments that make an `OperationConfig` carry `s`'s settings.
fn assignments(s: &Settings) -> TokenStream {
    let dur = |v: &std::time::Duration| {
        let n = v.as_nanos() as u64;
        quote!(::std::time::Duration::from_nanos(#n))
    };
    let mut out = Vec::new();
    if let Some(t) = &s.timeout {
        let t = dur(&t.value);
        out.push(quote!(o.timeout = #t;));
    }
    if let Some(t) = &s.deadline {
        let t = dur(&t.value);
        out.push(quote!(o.deadline = #t;));
    }
    match &s.retry {
        Some(Retry::None(_)) => out.push(quote!(o.retry.max_attempts = 1;)),
        Some(Retry::Settings {
            max_attempts,
            max_total,
            backoff,
            base,
            max_delay,
            jitter,
            ..
        }) => {
            if let Some(v) = max_attempts {
                let n = v.value;
                out.push(quote!(o.retry.max_attempts = #n;));
            }
            if let Some(v) = max_total {
                let t = dur(&v.value);
                out.push(quote!(o.retry.max_total = #t;));
            }
            if let Some(v) = backoff {
                let t = &v.value;
                out.push(quote!(o.retry.backoff = ::std::string::String::from(#t);));
            }
            if let Some(v) = base {
                let t = dur(&v.value);
                out.push(quote!(o.retry.base = #t;));
            }
            if let Some(v) = max_delay {
                let t = dur(&v.value);
                out.push(quote!(o.retry.max_delay = #t;));
            }
            if let Some(v) = jitter {
                let t = &v.value;
                out.push(quote!(o.retry.jitter = ::std::string::String::from(#t);));
            }
        }
        None => {}
    }
    if let Some(k) = &s.idempotency_key {
        let k = k.value();
        out.push(quote! {
            o.idempotency_key = true;
            o.idempotency_header = ::std::option::Option::Some(::std::string::String::from(#k));
        });
    }
    if let Some(i) = &s.idempotent {
        let v = i.value;
        out.push(quote!(o.idempotent = ::std::option::Option::Some(#v);));
    }
    quote!(#(#out)*)
}

pub fn derive(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let attrs = attr::policy_attrs(&input.attrs, &mut errors);
    let name = &input.ident;
    let contract = match &attrs.contract {
        Some(lit) => load(lit, &mut errors),
        None => {
            errors.push(
                name.span(),
                "#[derive(Policies)] needs the contract: #[acl(contract = \"contracts/api.yaml\")] (relative to the crate's Cargo.toml)",
            );
            None
        }
    };

    let default = attrs.default.as_ref().map(|(_, s)| s);
    let system_code = system_settings(default, &mut errors);

    // acl's defaults, then `default(...)`.
    let mut base = OperationConfig::default();
    if let Some((span, d)) = &attrs.default {
        apply(d, &mut base);
        if let Err(e) = base.validate() {
            errors.push(
                span_of(d, *span, &e.path),
                format!("{}: {}", e.path, e.message),
            );
        }
    }
    let mut arms = Vec::new();
    let mut seen = Vec::<String>::new();
    for (span, s) in &attrs.ops {
        let Some(id) = &s.id else { continue };
        for (what, present) in [
            ("breaker", s.breaker.is_some()),
            ("rate_limit", s.rate_limit.is_some()),
        ] {
            if present {
                errors.push(
                    *span,
                    format!(
                        "`{what}` applies to the whole external system: set it in `default(...)`"
                    ),
                );
            }
        }
        if seen.contains(&id.value()) {
            errors.push(id.span(), format!("`{}` is configured twice", id.value()));
        }
        seen.push(id.value());
        let body = assignments(s);
        let key = id.value();
        arms.push(quote!(#key => { #body }));
        let Some(contract) = &contract else { continue };
        let Some(op) = contract.ops.iter().find(|o| o.id == id.value()) else {
            let ids: Vec<&str> = contract.ops.iter().map(|o| o.id.as_str()).collect();
            let hint = acl_policy::closest(&id.value(), &ids)
                .map(|c| format!("; did you mean \"{c}\"?"))
                .unwrap_or_default();
            errors.push(
                id.span(),
                format!("the contract has no operation `{}`{hint}", id.value()),
            );
            continue;
        };
        // As the client will have it: contract over defaults, then this op.
        let mut config = overlay(
            &overlay(&base, contract.doc_operation.as_ref()),
            op.policy.as_ref(),
        );
        apply(s, &mut config);
        if op.idempotency_header.is_some() {
            config.idempotency_key = true;
        }
        if let Err(e) = config.validate() {
            errors.push(
                span_of(s, id.span(), &e.path),
                format!("{}: {}", e.path, e.message),
            );
        }
        if let Some(Retry::Settings {
            span: retry_span, ..
        }) = &s.retry
        {
            if config.retry.max_attempts > 1 && !config.safe_to_repeat(&op.method) {
                errors.push(
                    *retry_span,
                    format!(
                        "`{}` is a {} without an idempotency key: a retried request can do its work twice (a duplicate charge); set `idempotency_key = \"Idempotency-Key\"` or `retry = \"none\"`",
                        op.id, op.method
                    ),
                );
            }
        }
    }
    let defaults_code = default.map(assignments).unwrap_or_default();
    let includes = contract.iter().flat_map(|c| &c.files).map(|f| {
        let p = f.display().to_string();
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    let compile_errors = errors.to_compile_errors();
    // On error the impl is still emitted (empty), so the user sees the mistakes, not
    // a cascade of "trait not implemented".
    let (system_code, defaults_code, arms) = if errors.is_empty() {
        (system_code, defaults_code, arms)
    } else {
        (TokenStream::new(), TokenStream::new(), Vec::new())
    };
    quote! {
        #compile_errors
        const _: () = {
            // Recompile when the contract changes.
            #(#includes)*
            impl ::acl_runtime::__private::Policies for #name {
                #[allow(unused_variables)]
                fn system(s: &mut ::acl_runtime::__private::SystemConfig) {
                    #system_code
                }
                #[allow(unused_variables)]
                fn defaults(o: &mut ::acl_runtime::__private::OperationConfig) {
                    #defaults_code
                }
                #[allow(unused_variables)]
                fn operation(id: &str, o: &mut ::acl_runtime::__private::OperationConfig) {
                    match id {
                        #(#arms)*
                        _ => {}
                    }
                }
            }
        };
    }
}
