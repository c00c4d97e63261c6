//! W3C trace context across the boundary (feature `otel`), exported by an in-memory
//! OpenTelemetry SDK: a call made inside the application's span sends `traceparent`
//! with that trace and the attempt's span as parent; a webhook delivery that carries a
//! `traceparent` is received, stored, and processed later in the same trace, and the
//! call its handler makes carries that trace on to the vendor.

use std::time::{SystemTime, UNIX_EPOCH};

use acl_contract_tests::client::client::*;
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::testing::MockVendor;
use acl_runtime::webhook::{HandlerError, InboxWorker, Receiver, Scheme, Signer, Verifier};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::sync::Arc;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VENDOR_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const VENDOR_SPAN: &str = "00f067aa0ba902b7";

/// `00-<trace>-<parent span>-<flags>` → (trace, parent span).
fn parts(traceparent: &str) -> (String, String) {
    let p: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(p.len(), 4, "{traceparent}");
    (p[1].to_string(), p[2].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_goes_from_a_delivery_through_its_processing_to_the_vendor() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("acl-test")));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let vendor = MockVendor::new(&API);
    let client = Client::builder()
        .base_url("http://mock.invalid/v1")
        .transport(vendor.clone())
        .api_key("key")
        .bearer_token("token")
        .build()
        .unwrap();

    // 1. A call inside the application's span.
    let checkout = tracing::info_span!("checkout");
    let GetChargeResponse::Ok(_) = async { client.get_charge("ch_1").await }
        .instrument(checkout.clone())
        .await
        .unwrap();
    drop(checkout);
    let sent = vendor.calls("getCharge")[0]
        .header("traceparent")
        .expect("traceparent sent");
    let (trace, parent) = parts(&sent);
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().unwrap();
    let named = |name: &str| {
        spans
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let root = &named("checkout")[0];
    assert_eq!(trace, root.span_context.trace_id().to_string());
    let attempt = &named("acl.attempt")[0];
    assert_eq!(
        parent,
        attempt.span_context.span_id().to_string(),
        "the attempt is the parent"
    );
    let call = &named("acl.call")[0];
    assert_eq!(call.parent_span_id, root.span_context.span_id());

    // 2. A delivery that carries the vendor's trace: received, stored, processed later.
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let receiver = Receiver::with_inbox_dedupe(
        "vendor",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
    );
    let body = br#"{"type":"charge.paid","id":"ch_2"}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut headers = Signer::new(Scheme::Standard, SECRET)
        .unwrap()
        .sign("evt_1", now, body)
        .unwrap();
    headers.insert(
        "traceparent",
        format!("00-{VENDOR_TRACE}-{VENDOR_SPAN}-01")
            .parse()
            .unwrap(),
    );
    // A sender cannot pick the trace its delivery is processed in: the receiver's own
    // stored context is not taken from the request.
    headers.insert(
        "acl-traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    receiver.receive(&headers, body).unwrap();
    let worker = InboxWorker::new(store.clone());
    let handler = |_d: acl_runtime::store::Delivery| {
        let client = client.clone();
        async move {
            client
                .get_charge("ch_2")
                .await
                .map(|_| ())
                .map_err(|e| HandlerError::Retry(e.to_string()))
        }
    };
    worker
        .process_one(&handler)
        .await
        .unwrap()
        .expect("processed");
    let sent = vendor.calls("getCharge")[1]
        .header("traceparent")
        .expect("traceparent sent from the handler");
    assert_eq!(
        parts(&sent).0,
        VENDOR_TRACE,
        "the vendor's trace goes on out"
    );
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().unwrap();
    let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap().clone();
    let received = find("acl.webhook.receive");
    assert_eq!(received.span_context.trace_id().to_string(), VENDOR_TRACE);
    assert_eq!(received.parent_span_id.to_string(), VENDOR_SPAN);
    let processed = find("acl.webhook.process");
    assert_eq!(processed.span_context.trace_id().to_string(), VENDOR_TRACE);
    assert_eq!(
        processed.parent_span_id,
        received.span_context.span_id(),
        "processing continues the receive span"
    );
}
