//! The attribute layer: `#[acl(...)]` read into JSON layers of settings that keep the
//! span of each key and literal, so later checks can point at them. Every mistake is collected (not the
//! first only) with a "did you mean" for misspelt keys.

use proc_macro2::Span;
use serde_json::{Map, Value};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

/// Errors, collected and reported together.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    pub fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    pub fn add(&mut self, e: syn::Error) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One `compile_error!` per mistake.
    pub fn to_compile_errors(&self) -> proc_macro2::TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }
}

/// One layer of settings, from `default(...)` or `op(...)`: JSON in acl-policy's names
/// (the derive's keys are the settings' names), with the span of every key and value
/// so that checks point at what wrote a setting.
pub struct Layer {
    /// The span of `default` or `op`.
    pub span: Span,
    /// `id = "operationId"` of `op(...)`.
    pub id: Option<LitStr>,
    /// The settings.
    pub settings: Map<String, Value>,
    spans: Spans,
}

/// Where each setting of a layer is written.
#[derive(Default)]
struct Spans {
    /// Setting path (`retry.max_attempts`) → the span of its value (of its key, for a
    /// group such as `retry(...)`).
    values: Vec<(String, Span)>,
    /// Setting path → the span of its key.
    keys: Vec<(String, Span)>,
}

impl Layer {
    /// No settings yet (or no `default(...)` given), written at `span`.
    pub fn empty(span: Span) -> Self {
        Self {
            span,
            id: None,
            settings: Map::new(),
            spans: Spans::default(),
        }
    }

    /// The span of the setting at `path`, or of the closest group that holds it.
    pub fn span_of(&self, path: &str) -> Span {
        let mut path = path;
        loop {
            if let Some((_, span)) = self.spans.values.iter().find(|(p, _)| p == path) {
                return *span;
            }
            match path.rsplit_once('.') {
                Some((parent, _)) => path = parent,
                None => return self.span,
            }
        }
    }

    /// The span of the key of the setting at `path` (for "unknown setting").
    pub fn key_span_of(&self, path: &str) -> Span {
        self.spans
            .keys
            .iter()
            .find(|(p, _)| p == path)
            .map_or_else(|| self.span_of(path), |(_, span)| *span)
    }

    /// The part of the layer whose top-level keys are in `keys`.
    pub fn part(&self, keys: &[&str]) -> Map<String, Value> {
        self.settings
            .iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Everything `#[derive(Policies)]` was told.
#[derive(Default)]
pub struct PolicyAttrs {
    pub contract: Option<LitStr>,
    pub default: Option<Layer>,
    pub ops: Vec<Layer>,
}

fn unknown(meta: &ParseNestedMeta<'_>, known: &[&str], errors: &mut Errors) {
    let name = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| "?".into());
    let hint = acl_policy::closest(&name, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_else(|| format!(" (expected one of: {})", known.join(", ")));
    errors.push(meta.path_span(), format!("unknown key `{name}`{hint}"));
    skip_value(meta);
}

/// Skips a key's value so the next keys still parse.
fn skip_value(meta: &ParseNestedMeta<'_>) {
    if meta.input.peek(syn::Token![=]) {
        let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|m| {
            skip_value(&m);
            Ok(())
        });
    }
}

trait PathSpan {
    fn path_span(&self) -> Span;
}

impl PathSpan for ParseNestedMeta<'_> {
    fn path_span(&self) -> Span {
        syn::spanned::Spanned::span(&self.path)
    }
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    meta.value()?.parse::<LitStr>()
}

/// A literal as JSON: a string, a number (negative too) or a bool.
fn literal(expr: &syn::Expr) -> Option<Value> {
    use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};
    let number = |digits: &str| -> Option<Value> {
        if let Ok(n) = digits.parse::<i64>() {
            return Some(Value::from(n));
        }
        if let Ok(n) = digits.parse::<u64>() {
            return Some(Value::from(n));
        }
        digits
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
    };
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(s) => Some(Value::String(s.value())),
            Lit::Bool(b) => Some(Value::Bool(b.value)),
            Lit::Int(i) => number(i.base10_digits()),
            Lit::Float(f) => number(f.base10_digits()),
            _ => None,
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => number(&format!("-{}", i.base10_digits())),
            Expr::Lit(ExprLit {
                lit: Lit::Float(f), ..
            }) => number(&format!("-{}", f.base10_digits())),
            _ => None,
        },
        _ => None,
    }
}

/// Reads `key = literal`, `key(...)` (a group) and a bare `key` (`true`) into `into`,
/// recording spans under `prefix`. Which keys exist is acl-policy's business: the
/// caller checks the top level, serde the groups.
fn settings_into(
    meta: &ParseNestedMeta<'_>,
    prefix: &str,
    into: &mut Map<String, Value>,
    spans: &mut Spans,
    errors: &mut Errors,
) -> syn::Result<()> {
    let key = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    let path = if prefix.is_empty() {
        key.clone()
    } else {
        format!("{prefix}.{key}")
    };
    spans.keys.push((path.clone(), meta.path_span()));
    if into.contains_key(&key) {
        errors.push(meta.path_span(), format!("`{path}` is set twice"));
        skip_value(meta);
        return Ok(());
    }
    if meta.input.peek(syn::Token![=]) {
        let expr: syn::Expr = meta.value()?.parse()?;
        let span = syn::spanned::Spanned::span(&expr);
        match literal(&expr) {
            Some(v) => {
                into.insert(key, v);
                spans.values.push((path, span));
            }
            None => errors.push(
                span,
                format!("`{path}` takes a literal: a string (\"5s\"), a number or a bool"),
            ),
        }
    } else if meta.input.peek(syn::token::Paren) {
        let mut group = Map::new();
        spans.values.push((path.clone(), meta.path_span()));
        meta.parse_nested_meta(|m| settings_into(&m, &path, &mut group, spans, errors))?;
        into.insert(key, Value::Object(group));
    } else {
        into.insert(key, Value::Bool(true));
        spans.values.push((path, meta.path_span()));
    }
    Ok(())
}

/// `default(...)` or `op(...)`: `id` and the settings of `keys`; a setting of the other
/// level is refused with `elsewhere`.
fn layer(
    meta: &ParseNestedMeta<'_>,
    keys: &[&str],
    elsewhere: (&[&str], &str),
    errors: &mut Errors,
) -> syn::Result<Layer> {
    let mut layer = Layer::empty(meta.path_span());
    meta.parse_nested_meta(|m| {
        let key = m
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if key == "id" {
            layer.id = Some(lit_str(&m)?);
        } else if keys.contains(&key.as_str()) {
            settings_into(&m, "", &mut layer.settings, &mut layer.spans, errors)?;
        } else if elsewhere.0.contains(&key.as_str()) {
            errors.push(m.path_span(), format!("`{key}` {}", elsewhere.1));
            skip_value(&m);
        } else {
            let mut known = vec!["id"];
            known.extend(keys);
            unknown(&m, &known, errors);
        }
        Ok(())
    })?;
    Ok(layer)
}

/// Reads every `#[acl(...)]` of a `#[derive(Policies)]`.
pub fn policy_attrs(attrs: &[Attribute], errors: &mut Errors) -> PolicyAttrs {
    use acl_policy::{OPERATION_KEYS, SYSTEM_KEYS};
    let every: Vec<&str> = OPERATION_KEYS.iter().chain(SYSTEM_KEYS).copied().collect();
    let mut out = PolicyAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("acl")) {
        let result = attr.parse_nested_meta(|m| {
            let key = m
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "contract" => out.contract = Some(lit_str(&m)?),
                "default" => {
                    let l = layer(&m, &every, (&[], ""), errors)?;
                    if let Some(id) = &l.id {
                        errors.push(
                            id.span(),
                            "`default(...)` applies to every operation: remove `id`",
                        );
                    }
                    out.default = Some(l);
                }
                "op" => {
                    let l = layer(
                        &m,
                        OPERATION_KEYS,
                        (
                            SYSTEM_KEYS,
                            "applies to the whole external system: set it in `default(...)`",
                        ),
                        errors,
                    )?;
                    if l.id.is_none() {
                        errors.push(l.span, "`op(...)` needs `id = \"operationId\"`");
                    }
                    out.ops.push(l);
                }
                _ => unknown(&m, &["contract", "default", "op"], errors),
            }
            Ok(())
        });
        if let Err(e) = result {
            errors.add(e);
        }
    }
    out
}
