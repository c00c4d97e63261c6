//! The attribute layer: `#[acl(...)]` read into typed values that keep the span of
//! each literal, so later checks can point at it. Every mistake is collected (not the
//! first only) with a "did you mean" for misspelt keys.

use std::time::Duration;

use proc_macro2::Span;
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

/// A value with the span of what wrote it.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// `retry(...)` or `retry = "none"`.
#[derive(Debug, Clone)]
pub enum Retry {
    None(Span),
    Settings {
        span: Span,
        max_attempts: Option<Spanned<u32>>,
        max_total: Option<Spanned<Duration>>,
        backoff: Option<Spanned<String>>,
        base: Option<Spanned<Duration>>,
        max_delay: Option<Spanned<Duration>>,
        jitter: Option<Spanned<String>>,
    },
}

/// `breaker(...)` or `breaker = "off"`.
#[derive(Debug, Clone)]
pub enum Breaker {
    Off,
    Settings {
        span: Span,
        failure_rate: Option<Spanned<f64>>,
        slow_call_rate: Option<Spanned<f64>>,
        slow_call_duration: Option<Spanned<Duration>>,
        min_calls: Option<Spanned<u32>>,
        window_calls: Option<Spanned<u32>>,
        window_time: Option<Spanned<Duration>>,
        open_for: Option<Spanned<Duration>>,
        open_multiplier: Option<Spanned<f64>>,
        half_open_calls: Option<Spanned<u32>>,
        consecutive_failures: Option<Spanned<u32>>,
    },
}

/// `rate_limit(per_second = 20, burst = 40)`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    pub span: Span,
    pub per_second: Option<Spanned<f64>>,
    pub burst: Option<Spanned<u32>>,
}

/// The settings of `default(...)` or `op(...)`.
#[derive(Clone, Default)]
pub struct Settings {
    pub id: Option<LitStr>,
    pub timeout: Option<Spanned<Duration>>,
    pub deadline: Option<Spanned<Duration>>,
    pub retry: Option<Retry>,
    pub idempotency_key: Option<LitStr>,
    pub idempotent: Option<Spanned<bool>>,
    pub breaker: Option<Breaker>,
    pub rate_limit: Option<RateLimit>,
}

/// Everything `#[derive(Policies)]` was told.
#[derive(Default)]
pub struct PolicyAttrs {
    pub contract: Option<LitStr>,
    pub default: Option<(Span, Settings)>,
    pub ops: Vec<(Span, Settings)>,
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
    // Skip its value so the next keys still parse.
    if meta.input.peek(syn::Token![=]) {
        let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|m| {
            if m.input.peek(syn::Token![=]) {
                let _ = m.value()?.parse::<syn::Expr>()?;
            }
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

fn duration(
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<Spanned<Duration>>> {
    let lit = lit_str(meta)?;
    match acl_policy::parse_duration(&lit.value()) {
        Ok(d) => Ok(Some(Spanned {
            value: d,
            span: lit.span(),
        })),
        Err(e) => {
            errors.push(
                lit.span(),
                format!("malformed duration: {e}; write e.g. \"250ms\", \"5s\", \"2m\""),
            );
            Ok(None)
        }
    }
}

fn number<T: std::str::FromStr>(
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
    what: &str,
) -> syn::Result<Option<Spanned<T>>>
where
    T::Err: std::fmt::Display,
{
    let expr: syn::Expr = meta.value()?.parse()?;
    let span = syn::spanned::Spanned::span(&expr);
    let text = match &expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_digits().to_string(),
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_digits().to_string(),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => format!("-{}", i.base10_digits()),
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(f),
                ..
            }) => format!("-{}", f.base10_digits()),
            _ => String::new(),
        },
        _ => String::new(),
    };
    match text.parse::<T>() {
        Ok(value) => Ok(Some(Spanned { value, span })),
        Err(e) => {
            errors.push(span, format!("expected {what}: {e}"));
            Ok(None)
        }
    }
}

const RETRY_KEYS: &[&str] = &[
    "max_attempts",
    "max_total",
    "backoff",
    "base",
    "max_delay",
    "jitter",
];
const BREAKER_KEYS: &[&str] = &[
    "failure_rate",
    "slow_call_rate",
    "slow_call_duration",
    "min_calls",
    "window",
    "open_for",
    "open_multiplier",
    "half_open_calls",
    "consecutive_failures",
];
const OP_KEYS: &[&str] = &[
    "id",
    "timeout",
    "deadline",
    "retry",
    "idempotency_key",
    "idempotent",
    "breaker",
    "rate_limit",
];

fn retry(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<Retry>> {
    let span = meta.path_span();
    if meta.input.peek(syn::Token![=]) {
        let lit = lit_str(meta)?;
        if lit.value() == "none" {
            return Ok(Some(Retry::None(lit.span())));
        }
        errors.push(
            lit.span(),
            "`retry` takes \"none\" or settings: retry(max_attempts = 3, ...)",
        );
        return Ok(None);
    }
    let (mut max_attempts, mut max_total, mut backoff, mut base, mut max_delay, mut jitter) =
        (None, None, None, None, None, None);
    meta.parse_nested_meta(|m| {
        let key = m
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "max_attempts" => max_attempts = number::<u32>(&m, errors, "a whole number")?,
            "max_total" => max_total = duration(&m, errors)?,
            "base" => base = duration(&m, errors)?,
            "max_delay" => max_delay = duration(&m, errors)?,
            "backoff" => {
                let l = lit_str(&m)?;
                backoff = Some(Spanned {
                    value: l.value(),
                    span: l.span(),
                });
            }
            "jitter" => {
                let l = lit_str(&m)?;
                jitter = Some(Spanned {
                    value: l.value(),
                    span: l.span(),
                });
            }
            _ => unknown(&m, RETRY_KEYS, errors),
        }
        Ok(())
    })?;
    Ok(Some(Retry::Settings {
        span,
        max_attempts,
        max_total,
        backoff,
        base,
        max_delay,
        jitter,
    }))
}

fn breaker(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<Breaker>> {
    let span = meta.path_span();
    if meta.input.peek(syn::Token![=]) {
        let lit = lit_str(meta)?;
        if lit.value() == "off" {
            return Ok(Some(Breaker::Off));
        }
        errors.push(
            lit.span(),
            "`breaker` takes \"off\" or settings: breaker(failure_rate = 0.5, ...)",
        );
        return Ok(None);
    }
    let mut b = (None, None, None, None, None, None, None, None, None, None);
    meta.parse_nested_meta(|m| {
        let key = m
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "failure_rate" => b.0 = number::<f64>(&m, errors, "a rate between 0 and 1")?,
            "slow_call_rate" => b.1 = number::<f64>(&m, errors, "a rate between 0 and 1")?,
            "slow_call_duration" => b.2 = duration(&m, errors)?,
            "min_calls" => b.3 = number::<u32>(&m, errors, "a whole number")?,
            "window" => {
                // A number of calls, or a duration for a time window.
                let fork = m.input.fork();
                let is_text = fork.parse::<syn::Token![=]>().is_ok() && fork.peek(LitStr);
                if is_text {
                    b.5 = duration(&m, errors)?;
                } else {
                    b.4 = number::<u32>(&m, errors, "a number of calls or a duration")?;
                }
            }
            "open_for" => b.6 = duration(&m, errors)?,
            "open_multiplier" => b.7 = number::<f64>(&m, errors, "a number of at least 1")?,
            "half_open_calls" => b.8 = number::<u32>(&m, errors, "a whole number")?,
            "consecutive_failures" => b.9 = number::<u32>(&m, errors, "a whole number")?,
            _ => unknown(&m, BREAKER_KEYS, errors),
        }
        Ok(())
    })?;
    Ok(Some(Breaker::Settings {
        span,
        failure_rate: b.0,
        slow_call_rate: b.1,
        slow_call_duration: b.2,
        min_calls: b.3,
        window_calls: b.4,
        window_time: b.5,
        open_for: b.6,
        open_multiplier: b.7,
        half_open_calls: b.8,
        consecutive_failures: b.9,
    }))
}

fn rate_limit(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<RateLimit> {
    let mut r = RateLimit {
        span: meta.path_span(),
        per_second: None,
        burst: None,
    };
    meta.parse_nested_meta(|m| {
        let key = m
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "per_second" => r.per_second = number::<f64>(&m, errors, "calls per second")?,
            "burst" => r.burst = number::<u32>(&m, errors, "a whole number")?,
            _ => unknown(&m, &["per_second", "burst"], errors),
        }
        Ok(())
    })?;
    Ok(r)
}

fn settings(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Settings> {
    let mut s = Settings::default();
    meta.parse_nested_meta(|m| {
        let key = m
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "id" => s.id = Some(lit_str(&m)?),
            "timeout" => s.timeout = duration(&m, errors)?,
            "deadline" => s.deadline = duration(&m, errors)?,
            "retry" => s.retry = retry(&m, errors)?,
            "idempotency_key" => s.idempotency_key = Some(lit_str(&m)?),
            "idempotent" => {
                let b: syn::LitBool = m.value()?.parse()?;
                s.idempotent = Some(Spanned {
                    value: b.value,
                    span: b.span(),
                });
            }
            "breaker" => s.breaker = breaker(&m, errors)?,
            "rate_limit" => s.rate_limit = Some(rate_limit(&m, errors)?),
            _ => unknown(&m, OP_KEYS, errors),
        }
        Ok(())
    })?;
    Ok(s)
}

/// Reads every `#[acl(...)]` of a `#[derive(Policies)]`.
pub fn policy_attrs(attrs: &[Attribute], errors: &mut Errors) -> PolicyAttrs {
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
                    let span = m.path_span();
                    let s = settings(&m, errors)?;
                    if let Some(id) = &s.id {
                        errors.push(
                            id.span(),
                            "`default(...)` applies to every operation: remove `id`",
                        );
                    }
                    out.default = Some((span, s));
                }
                "op" => {
                    let span = m.path_span();
                    let s = settings(&m, errors)?;
                    if s.id.is_none() {
                        errors.push(span, "`op(...)` needs `id = \"operationId\"`");
                    }
                    out.ops.push((span, s));
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
