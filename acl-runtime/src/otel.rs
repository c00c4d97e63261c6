//! W3C trace context across the boundary (feature `otel`): every outbound request of a
//! generated client carries `traceparent`/`tracestate` of its attempt's span; a webhook
//! delivery's context (its own `traceparent`, or a new trace) is stored with it and its
//! processing continues that trace; outbound webhooks carry their send span's.
//!
//! acl's spans are `tracing` spans. Their OpenTelemetry context comes from
//! `tracing-opentelemetry`'s layer, which the application installs with its exporter,
//! and the wire format from the global propagator the application sets
//! (`opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new())`).
//! Without either, nothing is injected and nothing fails.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header a receiver adds to a stored delivery: the context of its receive span,
/// so the delivery's processing (later, in another process perhaps) continues it.
pub const STORED_TRACEPARENT: &str = "acl-traceparent";
/// As [`STORED_TRACEPARENT`], for `tracestate`.
pub const STORED_TRACESTATE: &str = "acl-tracestate";

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A stored delivery's headers, reading its stored context in place of the vendor's.
struct StoredExtractor<'a>(&'a [(String, Vec<u8>)]);

impl Extractor for StoredExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let find = |name: &str| {
            self.0
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| std::str::from_utf8(v).ok())
        };
        match key {
            "traceparent" => find(STORED_TRACEPARENT).or_else(|| find(key)),
            "tracestate" => find(STORED_TRACESTATE).or_else(|| find(key)),
            _ => find(key),
        }
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Injects `span`'s context into `headers` with the global propagator. A span no
/// subscriber records has no context: nothing to inject, and the propagator's lock is
/// not taken (what a service that does not trace pays; `benches/overhead`).
pub fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let cx = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers));
    });
}

/// The context `headers` carry (`traceparent`), with the global propagator.
pub fn extract(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// The context a stored delivery carries: the receiver's ([`STORED_TRACEPARENT`]),
/// else the vendor's `traceparent`.
pub fn extract_stored(headers: &[(String, Vec<u8>)]) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&StoredExtractor(headers)))
}

/// Makes `span` a child of `parent` (when `parent` carries a span).
pub fn set_parent(span: &tracing::Span, parent: Context) {
    use opentelemetry::trace::TraceContextExt as _;
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The headers to store with a delivery received in `span`: its context under
/// [`STORED_TRACEPARENT`] and [`STORED_TRACESTATE`] (none when there is no trace).
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) fn stored_headers(span: &tracing::Span) -> Vec<(String, Vec<u8>)> {
    let mut h = http::HeaderMap::new();
    inject(span, &mut h);
    let mut out = Vec::new();
    for (from, to) in [
        ("traceparent", STORED_TRACEPARENT),
        ("tracestate", STORED_TRACESTATE),
    ] {
        if let Some(v) = h.get(from) {
            out.push((to.to_string(), v.as_bytes().to_vec()));
        }
    }
    out
}
