//! `#[derive(Policies)]`: attributes → checked against the contract → an impl of
//! `acl_runtime::client::Policies` whose constants are JSON layers in acl-policy's
//! names. The attribute keys are acl-policy's setting names, so a new setting needs no
//! change here. Checks run on the same settings types the client builds from, layered
//! as the client layers them: acl's defaults, then `default(...)`, then the contract's
//! `x-acl-*`, then `op(...)`.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::Value;
use syn::DeriveInput;

use crate::attr::{self, Errors, Layer};
use acl_policy::{
    layered, ConfigError, OperationConfig, SystemConfig, OPERATION_KEYS, SYSTEM_KEYS,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Map;

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
    doc_system: Option<Value>,
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
        doc_system: g.api.policy.as_ref().and_then(|p| p.get("system").cloned()),
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

/// Reports a settings error at what wrote the setting: the last of `layers` that set
/// its top-level key, else `fallback`.
fn report(errors: &mut Errors, layers: &[&Layer], fallback: Span, e: &ConfigError) {
    let top = e.path.split('.').next().unwrap_or_default();
    let span = layers
        .iter()
        .rev()
        .find(|l| l.settings.contains_key(top))
        .map_or(fallback, |l| {
            if e.message.starts_with("unknown setting") {
                l.key_span_of(&e.path)
            } else {
                l.span_of(&e.path)
            }
        });
    errors.push(span, format!("{}: {}", e.path, e.message));
}

/// Reads each setting of `part` on its own (each one of a group such as `retry(...)`
/// too), so that every mistake is reported, not the first only; returns the settings
/// that read, and whether all did.
fn each_reads<T: Serialize + DeserializeOwned + Default>(
    layer: &Layer,
    part: &Map<String, Value>,
    errors: &mut Errors,
) -> (Value, bool) {
    let reads = |value: Map<String, Value>, errors: &mut Errors| match layered(
        &T::default(),
        &[&Value::Object(value)],
    ) {
        Ok(_) => true,
        Err(e) => {
            report(errors, &[layer], layer.span, &e);
            false
        }
    };
    let mut read = Map::new();
    for (key, value) in part {
        let ok = match value {
            Value::Object(group) if !group.is_empty() => {
                let mut all = true;
                for (inner, v) in group {
                    let one = Map::from_iter([(inner.clone(), v.clone())]);
                    all &= reads(Map::from_iter([(key.clone(), Value::Object(one))]), errors);
                }
                all
            }
            _ => reads(Map::from_iter([(key.clone(), value.clone())]), errors),
        };
        if ok {
            read.insert(key.clone(), value.clone());
        }
    }
    let all = read.len() == part.len();
    (Value::Object(read), all)
}

/// A layer as the text a `Policies` constant holds (empty for none).
fn text(part: &Map<String, Value>) -> String {
    if part.is_empty() {
        String::new()
    } else {
        Value::Object(part.clone()).to_string()
    }
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
    let empty = Layer::empty(name.span());
    let default = attrs.default.as_ref().unwrap_or(&empty);

    // The system: acl's defaults, the contract's, then `default(...)`.
    let system = default.part(SYSTEM_KEYS);
    let (own, _) = each_reads::<SystemConfig>(default, &system, &mut errors);
    let from_contract = contract.as_ref().and_then(|c| c.doc_system.clone());
    let mut layers: Vec<&Value> = from_contract.iter().collect();
    layers.push(&own);
    if let Err(e) = layered(&SystemConfig::default(), &layers).and_then(|s| s.validate()) {
        report(&mut errors, &[default], default.span, &e);
    }

    // Every operation: acl's defaults, then `default(...)`.
    let defaults = default.part(OPERATION_KEYS);
    let (defaults_value, mut defaults_ok) =
        each_reads::<OperationConfig>(default, &defaults, &mut errors);
    let defaults_retry = defaults.get("retry").is_some_and(Value::is_object);
    if let Err(e) =
        layered(&OperationConfig::default(), &[&defaults_value]).and_then(|c| c.validate())
    {
        report(&mut errors, &[default], default.span, &e);
        defaults_ok = false;
    }

    let mut operations = Vec::new();
    let mut seen = Vec::<String>::new();
    for op in &attrs.ops {
        let Some(id) = &op.id else { continue };
        if seen.contains(&id.value()) {
            errors.push(id.span(), format!("`{}` is configured twice", id.value()));
        }
        seen.push(id.value());
        // `op(...)` holds operation settings only (`attr` refuses the others).
        let own = op.settings.clone();
        operations.push((id.value(), text(&own)));
        let (own_value, own_reads) = each_reads::<OperationConfig>(op, &own, &mut errors);
        let Some(contract) = &contract else { continue };
        let Some(spec) = contract.ops.iter().find(|o| o.id == id.value()) else {
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
        if !(own_reads && defaults_ok) {
            continue;
        }
        // As the client will have it: defaults, the contract's, then this op.
        let mut layers = vec![&defaults_value];
        layers.extend(contract.doc_operation.as_ref());
        layers.extend(spec.policy.as_ref());
        layers.push(&own_value);
        let checked = layered(&OperationConfig::default(), &layers).and_then(|mut c| {
            if c.idempotency_key.is_none() {
                c.idempotency_key = spec.idempotency_header.clone();
            }
            c.validate().map(|_| c)
        });
        let config = match checked {
            Ok(c) => c,
            Err(e) => {
                report(&mut errors, &[default, op], id.span(), &e);
                continue;
            }
        };
        // Retries asked for in code, on the operation or inherited from `default(...)`,
        // that the runtime would silently not make: the same mistake either way.
        let own_retry = own.get("retry").is_some_and(Value::is_object);
        let inherited = !own.contains_key("retry") && defaults_retry;
        if (own_retry || inherited)
            && config.retry.max_attempts > 1
            && !config.safe_to_repeat(&spec.method)
        {
            let (span, whence) = if own_retry {
                (op.span_of("retry"), "")
            } else {
                (id.span(), " (it inherits the retries of `default(...)`)")
            };
            errors.push(
                span,
                format!(
                    "`{}` is a {} without an idempotency key{whence}: a retried request can do its work twice (a duplicate charge); set `idempotency_key = \"Idempotency-Key\"` or `retry = \"none\"` on it",
                    spec.id, spec.method
                ),
            );
        }
    }
    // Operations not named that inherit retries they will not make: said in the docs.
    let mut unretried = Vec::new();
    if let (Some(contract), true, true) = (&contract, defaults_retry, defaults_ok) {
        for spec in contract.ops.iter().filter(|o| !seen.contains(&o.id)) {
            let mut layers = vec![&defaults_value];
            layers.extend(contract.doc_operation.as_ref());
            layers.extend(spec.policy.as_ref());
            let Ok(mut c) = layered(&OperationConfig::default(), &layers) else {
                continue;
            };
            if c.idempotency_key.is_none() {
                c.idempotency_key = spec.idempotency_header.clone();
            }
            if c.retry.max_attempts > 1 && !c.safe_to_repeat(&spec.method) {
                unretried.push(format!("`{}` ({})", spec.id, spec.method));
            }
        }
    }
    let note = if unretried.is_empty() {
        String::new()
    } else {
        format!(
            " Not retried although `default(...)` sets retries (not safe to repeat without an idempotency key): {}.",
            unretried.join(", ")
        )
    };
    let includes = contract.iter().flat_map(|c| &c.files).map(|f| {
        let p = f.display().to_string();
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    let compile_errors = errors.to_compile_errors();
    // On error the impl is still emitted (empty), so the user sees the mistakes, not
    // a cascade of "trait not implemented".
    let (system, defaults, operations) = if errors.is_empty() {
        (text(&system), text(&defaults), operations)
    } else {
        (String::new(), String::new(), Vec::new())
    };
    let operations = operations.iter().map(|(id, layer)| quote!((#id, #layer)));
    quote! {
        #compile_errors
        const _: () = {
            // Recompile when the contract changes.
            #(#includes)*
            #[doc = #note]
            impl ::acl_runtime::__private::Policies for #name {
                const SYSTEM: &'static str = #system;
                const DEFAULTS: &'static str = #defaults;
                const OPERATIONS: &'static [(&'static str, &'static str)] = &[#(#operations),*];
            }
        };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn operations_that_will_not_retry_the_defaults_are_named_in_the_docs() {
        let out = super::derive(syn::parse_quote! {
            #[acl(contract = "tests/ui/orders.yaml")]
            #[acl(default(retry(max_attempts = 4)))]
            #[acl(op(id = "getOrder", timeout = "2s"))]
            pub struct P;
        })
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains("Not retried although `default(...)` sets retries")
                && out.contains("`createOrder` (POST)")
                && out.contains("`updateOrder` (PATCH)")
                && !out.contains("`getOrder` (GET)"),
            "{out}"
        );
    }
}
