//! Inbound webhooks over real HTTP on 127.0.0.1 with a real SQLite file: forged and
//! replayed deliveries refused, 1,000 concurrent duplicates processed once, retries and
//! the dead-letter queue, replay from it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acl_runtime::resilience::retry::Backoff;
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{InboxStore, MemoryIdempotency};
use acl_runtime::webhook::{
    HandlerError, InboxWorker, Processed, Receiver, Scheme, Signer, Verifier,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn db(name: &str) -> Arc<SqliteStore> {
    let path =
        std::env::temp_dir().join(format!("acl-inbound-{}-{name}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Arc::new(SqliteStore::open(&path).unwrap())
}

async fn serve(receiver: Receiver) -> u16 {
    let app = axum::Router::new().route(
        "/hook",
        acl_runtime::webhook::axum::post(Arc::new(receiver)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn post(
    client: &reqwest::Client,
    port: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> (u16, String) {
    let mut r = client
        .post(format!("http://127.0.0.1:{port}/hook"))
        .timeout(Duration::from_secs(10))
        .body(body.to_vec());
    for (n, v) in headers {
        r = r.header(n, v);
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn signed(id: &str, ts: i64, body: &[u8]) -> http::HeaderMap {
    Signer::new(Scheme::Standard, SECRET)
        .unwrap()
        .sign(id, ts, body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_duplicates_are_processed_once() {
    let store = db("dupes");
    let receiver = Receiver::new(
        "dupes",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
        store.clone(),
    );
    let port = serve(receiver).await;
    let client = reqwest::Client::new();
    let body = br#"{"type":"invoice.paid","id":"in_1","amount":1200}"#;
    let headers = signed("msg_same", now(), body);
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (client, headers) = (client.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            post(&client, port, &headers, body).await
        }));
    }
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    let mut accepted = 0;
    for t in tasks {
        let (status, text) = t.await.unwrap();
        *by_status.entry(status).or_default() += 1;
        accepted += usize::from(text == "accepted");
    }
    // 200 (accepted once, duplicates after), or 503 while the first was being stored:
    // never an error that would make the sender give up, never two acceptances.
    assert!(
        by_status.keys().all(|s| *s == 200 || *s == 503),
        "{by_status:?}"
    );
    assert_eq!(accepted, 1, "{by_status:?}");
    let calls = Arc::new(AtomicUsize::new(0));
    let worker = InboxWorker::new(store.clone());
    let c = calls.clone();
    let handler = move |_d: acl_runtime::store::Delivery| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    };
    while worker.process_one(&handler).await.unwrap().is_some() {}
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(InboxStore::counts(&*store).unwrap().done, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_conflicting_deliveries_are_refused_with_reasons() {
    let store = db("refused");
    let receiver = Receiver::new(
        "refused",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        Arc::new(MemoryIdempotency::new()),
        store.clone(),
    );
    let port = serve(receiver).await;
    let client = reqwest::Client::new();
    let body = br#"{"a":1}"#;
    // Forged: signed with another secret.
    let forged = Signer::new(Scheme::Standard, "whsec_b3RoZXIgc2VjcmV0")
        .unwrap()
        .sign("m1", now(), body)
        .unwrap();
    // The sender learns only that the signature is invalid: not how many keys or which
    // versions were tried, not the clock tolerance (the log and the metric have those).
    let (status, text) = post(&client, port, &forged, body).await;
    assert_eq!((status, text.as_str()), (401, "invalid signature"));
    // Replayed: an old timestamp.
    let (status, text) = post(&client, port, &signed("m1", now() - 3600, body), body).await;
    assert_eq!((status, text.as_str()), (401, "invalid signature"));
    // Missing headers.
    let (status, text) = post(&client, port, &http::HeaderMap::new(), body).await;
    assert_eq!((status, text.as_str()), (401, "invalid signature"));
    // Accepted, then the same id with another (validly signed) body: conflict.
    assert_eq!(
        post(&client, port, &signed("m1", now(), body), body).await,
        (200, "accepted".into())
    );
    assert_eq!(
        post(&client, port, &signed("m1", now(), body), body).await,
        (200, "duplicate".into())
    );
    let other = br#"{"a":2}"#;
    let (status, text) = post(&client, port, &signed("m1", now(), other), other).await;
    assert_eq!(status, 409, "{text}");
    // A non-UTF-8 body is stored byte for byte.
    let raw = [0xff, 0x00, 0xfe, b'\n'];
    assert_eq!(
        post(&client, port, &signed("bin", now(), &raw), &raw)
            .await
            .0,
        200
    );
    let worker = InboxWorker::new(store.clone());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let handler = move |d: acl_runtime::store::Delivery| {
        let g = g.clone();
        async move {
            g.lock().unwrap().push((
                d.delivery.id.clone(),
                d.delivery.body.clone(),
                d.header("webhook-id").map(<[u8]>::to_vec),
            ));
            Ok(())
        }
    };
    while worker.process_one(&handler).await.unwrap().is_some() {}
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1],
        ("bin".to_string(), raw.to_vec(), Some(b"bin".to_vec()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_deliveries_retry_then_dead_letter_and_replay() {
    let store = db("dlq");
    let receiver = Receiver::new(
        "dlq",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
        store.clone(),
    );
    let port = serve(receiver).await;
    let client = reqwest::Client::new();
    for (id, body) in [
        ("flaky", &br#"{"n":1}"#[..]),
        ("invalid", br#"{"n":"x"}"#),
        ("down", br#"{"n":3}"#),
    ] {
        assert_eq!(
            post(&client, port, &signed(id, now(), body), body).await.0,
            200
        );
    }
    let worker = InboxWorker::new(store.clone())
        .max_attempts(3)
        .backoff(Backoff::fixed(Duration::ZERO))
        .timeout(Duration::from_secs(5));
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (f, dn) = (flaky_calls.clone(), down.clone());
    let handler = move |d: acl_runtime::store::Delivery| {
        let (f, dn) = (f.clone(), dn.clone());
        async move {
            match d.delivery.id.as_str() {
                "flaky" if f.fetch_add(1, Ordering::SeqCst) == 0 => {
                    Err(HandlerError::Retry("ledger timed out".into()))
                }
                "invalid" => {
                    let v: serde_json::Value = serde_json::from_slice(&d.delivery.body).unwrap();
                    if v["n"].is_number() {
                        Ok(())
                    } else {
                        Err(HandlerError::Invalid("/n: expected a number".into()))
                    }
                }
                "down" if dn.load(Ordering::SeqCst) => {
                    Err(HandlerError::Retry("503 from the ledger".into()))
                }
                _ => Ok(()),
            }
        }
    };
    let mut log = Vec::new();
    while let Some(p) = worker.process_one(&handler).await.unwrap() {
        log.push(p);
    }
    assert!(log.contains(&Processed::Done { id: "flaky".into() }));
    assert!(log.contains(&Processed::DeadLettered {
        id: "invalid".into(),
        error: HandlerError::Invalid("/n: expected a number".into())
    }));
    assert!(log.contains(&Processed::DeadLettered {
        id: "down".into(),
        error: HandlerError::Retry("503 from the ledger".into())
    }));
    assert_eq!(
        log.iter()
            .filter(|p| matches!(p, Processed::Retrying { id, .. } if id == "down"))
            .count(),
        2
    );
    let dead = store.dead_letters(10).unwrap();
    let reasons: Vec<_> = dead
        .iter()
        .map(|d| (d.delivery.id.as_str(), d.attempts, d.error.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "invalid",
                1,
                "after 1 attempt(s): invalid: /n: expected a number"
            ),
            (
                "down",
                3,
                "after 3 attempt(s): transient: 503 from the ledger"
            ),
        ]
    );
    // The ledger is back: replay from the DLQ.
    down.store(false, Ordering::SeqCst);
    assert!(InboxStore::replay(&*store, "down", acl_runtime::store::unix_ms()).unwrap());
    assert_eq!(
        worker.process_one(&handler).await.unwrap(),
        Some(Processed::Done { id: "down".into() })
    );
    let counts = InboxStore::counts(&*store).unwrap();
    assert_eq!((counts.done, counts.dead), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_github_and_shopify_receivers_take_their_ids_from_the_right_place() {
    let store = db("schemes");
    let client = reqwest::Client::new();
    // Stripe: no id header; the id is the event's `/id`.
    let stripe = Receiver::new(
        "stripe",
        Verifier::new(Scheme::Stripe, ["whsec_stripe"]).unwrap(),
        store.clone(),
        store.clone(),
    );
    let port = serve(stripe).await;
    let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
    let h = Signer::new(Scheme::Stripe, "whsec_stripe")
        .unwrap()
        .sign("", now(), body)
        .unwrap();
    assert_eq!(
        post(&client, port, &h, body).await,
        (200, "accepted".into())
    );
    assert_eq!(
        post(&client, port, &h, body).await,
        (200, "duplicate".into())
    );
    let no_id = br#"{"type":"x"}"#;
    let h = Signer::new(Scheme::Stripe, "whsec_stripe")
        .unwrap()
        .sign("", now(), no_id)
        .unwrap();
    let (status, text) = post(&client, port, &h, no_id).await;
    assert_eq!(status, 400);
    assert!(text.contains("the body has no `/id`"), "{text}");
    // GitHub: X-GitHub-Delivery.
    let gh = Receiver::new(
        "github",
        Verifier::new(Scheme::GitHub, ["It's a Secret to Everybody"]).unwrap(),
        store.clone(),
        store.clone(),
    );
    let port = serve(gh).await;
    let h = Signer::new(Scheme::GitHub, "It's a Secret to Everybody")
        .unwrap()
        .sign("gh-1", 0, b"Hello, World!")
        .unwrap();
    assert_eq!(
        post(&client, port, &h, b"Hello, World!").await,
        (200, "accepted".into())
    );
    // A header the receiver is told to use; its absence is a 400 that names it.
    let by_header = Receiver::new(
        "custom",
        Verifier::new(Scheme::GitHub, ["k"]).unwrap(),
        store.clone(),
        store.clone(),
    )
    .id_from(acl_runtime::webhook::IdSource::Header(
        "x-request-id".into(),
    ))
    .max_body(32);
    let port_h = serve(by_header).await;
    let mut h = Signer::new(Scheme::GitHub, "k")
        .unwrap()
        .sign("ignored", 0, b"{}")
        .unwrap();
    let (status, text) = post(&client, port_h, &h, b"{}").await;
    assert_eq!(status, 400);
    assert!(text.contains("header `x-request-id` is absent"), "{text}");
    h.insert("x-request-id", "req-7".parse().unwrap());
    assert_eq!(
        post(&client, port_h, &h, b"{}").await,
        (200, "accepted".into())
    );
    // Over the size limit: 413 before anything else is done.
    let big = vec![b'x'; 33];
    let h = Signer::new(Scheme::GitHub, "k")
        .unwrap()
        .sign("x", 0, &big)
        .unwrap();
    let (status, text) = post(&client, port_h, &h, &big).await;
    assert_eq!(status, 413, "{text}");
    // Shopify: X-Shopify-Webhook-Id.
    let shop = Receiver::new(
        "shopify",
        Verifier::new(Scheme::Shopify, ["hush"]).unwrap(),
        store.clone(),
        store.clone(),
    );
    let port = serve(shop).await;
    let h = Signer::new(Scheme::Shopify, "hush")
        .unwrap()
        .sign("shop-1", 0, b"{}")
        .unwrap();
    assert_eq!(
        post(&client, port, &h, b"{}").await,
        (200, "accepted".into())
    );
    assert_eq!(InboxStore::counts(&*store).unwrap().pending, 4);
}

/// Two instances of a receiver, each with its own SQLite inbox, share deduplication in
/// a real Redis (started by `.ci/run`; `ACL_REDIS_URL`): the same delivery sent to
/// both, many times at once, is stored once in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
async fn instances_sharing_redis_store_a_delivery_once() {
    use acl_runtime::store::redis::RedisIdempotency;
    let url = std::env::var("ACL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!(
        "acl-inbound-{}-{}",
        std::process::id(),
        acl_runtime::store::unix_ms()
    );
    let connect = || RedisIdempotency::connect(&url, &prefix);
    let (a, b) = match (connect(), connect()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            panic!("needs redis-server: set ACL_REDIS_URL; no server at {url}: {e}")
        }
    };
    let (inbox_a, inbox_b) = (db("redis-a"), db("redis-b"));
    let verifier = || Verifier::new(Scheme::Standard, [SECRET]).unwrap();
    let port_a = serve(Receiver::new("a", verifier(), Arc::new(a), inbox_a.clone())).await;
    let port_b = serve(Receiver::new("b", verifier(), Arc::new(b), inbox_b.clone())).await;
    let client = reqwest::Client::new();
    let body = br#"{"type":"order.shipped","order":"o_1"}"#;
    let headers = signed("msg_shared", now(), body);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (client, headers) = (client.clone(), headers.clone());
        let port = if i % 2 == 0 { port_a } else { port_b };
        tasks.push(tokio::spawn(async move {
            post(&client, port, &headers, body).await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, text) = t.await.unwrap();
        assert!(status == 200 || status == 503, "{status} {text}");
        accepted += usize::from(text == "accepted");
    }
    assert_eq!(accepted, 1);
    let stored = InboxStore::counts(&*inbox_a).unwrap().pending
        + InboxStore::counts(&*inbox_b).unwrap().pending;
    assert_eq!(stored, 1);
}

/// An inbox that says it deduplicates but does not (its `push_unique` is the trait's
/// default): the delivery is refused with a store error (503), nothing is stored.
#[test]
fn an_inbox_that_claims_dedupe_but_cannot_is_refused_not_stored() {
    use acl_runtime::store::{
        DeadLetter, DedupingInbox, Delivery, InboxCounts, NewDelivery, StoreError,
    };
    struct Liar(Arc<SqliteStore>);
    impl InboxStore for Liar {
        fn push(&self, d: &NewDelivery) -> Result<(), StoreError> {
            self.0.push(d)
        }
        fn claim(
            &self,
            now: i64,
            lease: Duration,
            in_order: bool,
        ) -> Result<Option<Delivery>, StoreError> {
            self.0.claim(now, lease, in_order)
        }
        fn complete(&self, id: &str, now: i64) -> Result<(), StoreError> {
            self.0.complete(id, now)
        }
        fn retry_at(&self, id: &str, at: i64, error: &str) -> Result<(), StoreError> {
            self.0.retry_at(id, at, error)
        }
        fn dead_letter(&self, id: &str, error: &str, now: i64) -> Result<(), StoreError> {
            self.0.dead_letter(id, error, now)
        }
        fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
            self.0.dead_letters(limit)
        }
        fn replay(&self, id: &str, now: i64) -> Result<bool, StoreError> {
            self.0.replay(id, now)
        }
        fn counts(&self) -> Result<InboxCounts, StoreError> {
            InboxStore::counts(&*self.0)
        }
    }
    impl DedupingInbox for Liar {}

    let store = db("liar");
    let receiver = Receiver::with_inbox_dedupe(
        "liar",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        Arc::new(Liar(store.clone())),
    );
    let body = br#"{"id":"evt_1"}"#;
    let headers = Signer::new(Scheme::Standard, SECRET)
        .unwrap()
        .sign("msg_1", now(), body)
        .unwrap();
    let rejection = receiver.receive(&headers, body).unwrap_err();
    assert_eq!(rejection.status(), 503);
    assert!(
        rejection.to_string().contains("push_unique answered None"),
        "{rejection}"
    );
    assert_eq!(InboxStore::counts(&*store).unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_body_limit_is_the_receivers_not_axums() {
    let store = db("limit");
    let receiver = Receiver::new(
        "limit",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
        store.clone(),
    )
    .max_body(16 << 20);
    let port = serve(receiver).await;
    let client = reqwest::Client::new();
    // 3 MB: over axum's default of 2 MB, under the receiver's 16 MiB.
    let body = format!("{{\"blob\":\"{}\"}}", "x".repeat(3_000_000)).into_bytes();
    let (status, text) = post(&client, port, &signed("big-1", now(), &body), &body).await;
    assert_eq!((status, text.as_str()), (200, "accepted"));
    // And a receiver with a small limit refuses a body over it, whatever axum allows.
    let small = Receiver::new(
        "small",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
        store.clone(),
    )
    .max_body(1000);
    let port = serve(small).await;
    let body = vec![b'x'; 1001];
    let (status, _) = post(&client, port, &signed("big-2", now(), &body), &body).await;
    assert_eq!(status, 413);
}
