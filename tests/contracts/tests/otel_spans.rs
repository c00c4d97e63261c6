//! The spans of a generated client's calls follow OpenTelemetry's HTTP client conventions
//! (`http.request.method`, `url.template`, `server.address`, `server.port`,
//! `http.response.status_code`, `http.request.resend_count`, `error.type`) plus acl's
//! own (`acl.system`, `acl.operation`, `acl.attempt`, `acl.breaker.state`,
//! `acl.retry.reason`), and carry no id, query value, header or body.
//!
//! A small `tracing::Subscriber` records every span's fields; the vendor is a
//! `MockVendor` in-process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use acl_contract_tests::client::client::*;
use acl_runtime::testing::{Fault, MockVendor};

/// A span's name and its fields, as text.
type Recorded = (String, BTreeMap<String, String>);

/// Every span.
#[derive(Default, Clone)]
struct Spans(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            format!("{value:?}").trim_matches('"').to_string(),
        );
    }
}

struct Recorder {
    spans: Spans,
    next: AtomicU64,
    /// Each span's metadata, by id.
    metadata: Mutex<std::collections::HashMap<u64, &'static tracing::Metadata<'static>>>,
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut all = self.spans.0.lock().unwrap();
        all.push((attrs.metadata().name().to_string(), fields));
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        debug_assert_eq!(id as usize, all.len() - 1);
        self.metadata
            .lock()
            .unwrap()
            .insert(id + 1, attrs.metadata());
        tracing::span::Id::from_u64(id + 1)
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut all = self.spans.0.lock().unwrap();
        let entry = &mut all[span.into_u64() as usize - 1].1;
        values.record(&mut Fields(entry));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, span: &tracing::span::Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, _: &tracing::span::Id) {
        STACK.with(|s| s.borrow_mut().pop());
    }
    fn current_span(&self) -> tracing_core_current::Current {
        let current = STACK.with(|s| s.borrow().last().copied());
        let metadata = current.and_then(|id| self.metadata.lock().unwrap().get(&id).copied());
        match (current, metadata) {
            (Some(id), Some(meta)) => {
                tracing_core_current::Current::new(tracing::span::Id::from_u64(id), meta)
            }
            _ => tracing_core_current::Current::none(),
        }
    }
}

thread_local! {
    /// The spans entered on this thread, innermost last (what `Span::current` asks).
    static STACK: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

use tracing_core::span as tracing_core_current;

#[tokio::test]
async fn call_and_attempt_spans_carry_the_http_conventions_and_no_secrets() {
    let spans = Spans::default();
    let subscriber = Recorder {
        spans: spans.clone(),
        next: AtomicU64::new(0),
        metadata: Mutex::default(),
    };
    let _guard = tracing::subscriber::set_default(subscriber);
    let vendor = MockVendor::new(&API);
    let c = Client::builder()
        .base_url("http://mock.invalid:8443/v1")
        .transport(vendor.clone())
        .api_key("key-secret-42")
        .bearer_token("token-secret-42")
        .build()
        .unwrap();
    vendor.on("getCharge").times(1).fail(Fault::Status(503));
    let GetChargeResponse::Ok(_) = c.get_charge("ch_private_7").await.unwrap();
    vendor.on("getCharge").respond(404);
    assert!(c.get_charge("ch_private_8").await.is_err());

    let all = spans.0.lock().unwrap().clone();
    let calls: Vec<&BTreeMap<String, String>> = all
        .iter()
        .filter(|(n, _)| n == "acl.call")
        .map(|(_, f)| f)
        .collect();
    let attempts: Vec<&BTreeMap<String, String>> = all
        .iter()
        .filter(|(n, _)| n == "acl.attempt")
        .map(|(_, f)| f)
        .collect();
    assert_eq!(calls.len(), 2, "{all:#?}");
    let ok = calls[0];
    let field = |f: &BTreeMap<String, String>, k: &str| f.get(k).cloned().unwrap_or_default();
    assert_eq!(field(ok, "acl.system"), API.system);
    assert_eq!(field(ok, "acl.operation"), "getCharge");
    assert_eq!(field(ok, "http.request.method"), "GET");
    assert_eq!(field(ok, "url.template"), "/v1/charges/{chargeId}");
    assert_eq!(field(ok, "server.address"), "mock.invalid");
    assert_eq!(field(ok, "server.port"), "8443");
    assert_eq!(field(ok, "http.response.status_code"), "200");
    assert_eq!(field(ok, "http.request.resend_count"), "1");
    assert_eq!(field(ok, "acl.breaker.state"), "closed");
    assert!(!ok.contains_key("error.type"), "{ok:?}");
    // The first call's two attempts: a 503 retried, then the answer.
    assert_eq!(field(attempts[0], "acl.attempt"), "1");
    assert_eq!(field(attempts[0], "http.request.resend_count"), "0");
    assert_eq!(field(attempts[0], "http.response.status_code"), "503");
    assert_eq!(field(attempts[0], "error.type"), "transient");
    assert_eq!(field(attempts[0], "acl.retry.reason"), "server_error");
    assert_eq!(field(attempts[1], "http.request.resend_count"), "1");
    assert_eq!(field(attempts[1], "http.response.status_code"), "200");
    // A documented 404: permanent, on the call too.
    let failed = calls[1];
    assert_eq!(field(failed, "http.response.status_code"), "404");
    assert_eq!(field(failed, "error.type"), "permanent");
    // No id, credential or filled URL in any span.
    for (name, fields) in &all {
        for value in fields.values() {
            for secret in [
                "ch_private",
                "key-secret",
                "token-secret",
                "mock.invalid:8443/v1/charges/ch",
            ] {
                assert!(
                    !value.contains(secret),
                    "{name} carries {secret}: {fields:?}"
                );
            }
        }
    }
}
