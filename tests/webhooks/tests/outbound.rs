//! Outbound webhooks against a local endpoint on 127.0.0.1 that fails on purpose: the
//! schedule with jitter, Retry-After, per-attempt timeout, status per message and per
//! attempt, endpoints disabled after continuous failure, manual replay.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{MessageStatus, OutboxStore};
use acl_runtime::webhook::{Destinations, OutboundEvent, Scheme, Sender, Verifier};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::StreamExt;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(serde::Serialize)]
struct InvoicePaid {
    invoice: String,
    amount: u64,
}
impl OutboundEvent for InvoicePaid {
    const TYPE: &'static str = "invoice.paid";
    const VERSION: &'static str = "2026-11-01";
}

/// A scripted reply: (status, Retry-After, delay in ms).
type Reply = (u16, Option<&'static str>, u64);
/// A request as the endpoint saw it.
type Seen = (Instant, HeaderMap, Vec<u8>);

/// Replies from a script; 204 when the script is empty.
#[derive(Clone, Default)]
struct Endpoint {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn serve(e: Endpoint) -> String {
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let e = e.clone();
            async move {
                e.seen
                    .lock()
                    .unwrap()
                    .push((Instant::now(), headers, body.to_vec()));
                let next = e.script.lock().unwrap().pop_front();
                let (status, retry_after, delay) = next.unwrap_or((204, None, 0));
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let mut r = StatusCode::from_u16(status).unwrap().into_response();
                if let Some(ra) = retry_after {
                    r.headers_mut().insert("retry-after", ra.parse().unwrap());
                }
                r
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}/in")
}

fn store(name: &str) -> Arc<SqliteStore> {
    let path =
        std::env::temp_dir().join(format!("acl-outbound-{}-{name}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Arc::new(SqliteStore::open(&path).unwrap())
}

async fn drive(
    sender: &Sender,
    store: &SqliteStore,
    id: &str,
    until: impl Fn(MessageStatus) -> bool,
) -> acl_runtime::store::MessageState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        sender.deliver_due().await.unwrap();
        let m = store.message(id).unwrap().unwrap();
        if until(m.status) {
            return m;
        }
        assert!(Instant::now() < deadline, "{id} stuck at {:?}", m.status);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_on_schedule_honour_retry_after_and_time_out_slow_attempts() {
    let endpoint = Endpoint::default();
    endpoint.script.lock().unwrap().extend([
        (503, None, 0),
        (429, Some("1"), 0),
        (200, None, 1500),
        (500, None, 0),
    ]);
    let url = serve(endpoint.clone()).await;
    let s = store("schedule");
    let sender = Sender::http(s.clone(), Destinations::Any)
        .unwrap()
        .schedule(vec![
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(100),
            Duration::from_millis(100),
            Duration::from_millis(100),
            Duration::from_millis(100),
        ])
        .jitter(0.2)
        .timeout(Duration::from_millis(400));
    sender.endpoint("ep", &url, SECRET).unwrap();
    sender
        .publish(
            "ep",
            "msg_1",
            &InvoicePaid {
                invoice: "in_1".into(),
                amount: 1200,
            },
        )
        .unwrap();
    sender
        .publish(
            "ep",
            "msg_1",
            &InvoicePaid {
                invoice: "changed".into(),
                amount: 0,
            },
        )
        .unwrap();
    let m = drive(&sender, &s, "msg_1", |st| st == MessageStatus::Delivered).await;
    let codes: Vec<_> = m.attempts.iter().map(|a| a.status).collect();
    // 503, 429 (Retry-After: 1), a 200 too late (timed out: no status), 500, then 204.
    assert_eq!(
        codes,
        vec![Some(503), Some(429), None, Some(500), Some(204)]
    );
    assert!(
        m.attempts[2]
            .error
            .as_deref()
            .unwrap()
            .contains("no answer within"),
        "{:?}",
        m.attempts[2]
    );
    let seen = endpoint.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    // The wait after the 429 honoured Retry-After (1 s), not the 100 ms schedule.
    let after_429 = seen[2].0 - seen[1].0;
    assert!(after_429 >= Duration::from_millis(990), "{after_429:?}");
    // The other waits follow the schedule with ±20% jitter (and never less).
    let after_503 = seen[1].0 - seen[0].0;
    assert!(after_503 >= Duration::from_millis(80), "{after_503:?}");
    // Every attempt: the same id, the same bytes, a valid signature, the type and version.
    let verifier = Verifier::new(Scheme::Standard, [SECRET]).unwrap();
    for (_, headers, body) in &seen {
        assert_eq!(headers["webhook-id"], "msg_1");
        assert_eq!(
            body, br#"{"invoice":"in_1","amount":1200}"#,
            "republishing an id changes nothing"
        );
        assert!(verifier.verify(headers, body).is_ok());
        assert_eq!(headers["webhook-event-type"], "invoice.paid");
        assert_eq!(headers["webhook-version"], "2026-11-01");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_ends_in_failed_and_a_failing_endpoint_is_disabled_then_replayed() {
    let endpoint = Endpoint::default();
    endpoint
        .script
        .lock()
        .unwrap()
        .extend(std::iter::repeat_n((500, None, 0), 5));
    let url = serve(endpoint.clone()).await;
    let s = store("disable");
    let sender = Sender::http(s.clone(), Destinations::Any)
        .unwrap()
        .schedule(vec![
            Duration::ZERO,
            Duration::from_millis(30),
            Duration::from_millis(30),
        ])
        .timeout(Duration::from_secs(2));
    sender.endpoint("ep", &url, SECRET).unwrap();
    sender
        .publish(
            "ep",
            "a",
            &InvoicePaid {
                invoice: "a".into(),
                amount: 1,
            },
        )
        .unwrap();
    let m = drive(&sender, &s, "a", |st| st == MessageStatus::Failed).await;
    assert_eq!(m.attempts.len(), 3, "three scheduled attempts, then failed");
    assert!(s.endpoint("ep").unwrap().unwrap().failing_since.is_some());
    // Manual replay: starts the schedule again; the endpoint has recovered after two more 500s.
    assert!(sender.replay("a").unwrap());
    let m = drive(&sender, &s, "a", |st| st == MessageStatus::Delivered).await;
    assert_eq!(m.attempts.last().unwrap().status, Some(204));
    assert_eq!(
        s.endpoint("ep").unwrap().unwrap().failing_since,
        None,
        "success clears the failure period"
    );

    // A dead endpoint (connection refused) failing for longer than `disable_after` is
    // disabled and its pending messages fail.
    let strict = Sender::http(s.clone(), Destinations::Any)
        .unwrap()
        .schedule(vec![
            Duration::ZERO,
            Duration::from_millis(50),
            Duration::from_millis(50),
            Duration::from_millis(50),
            Duration::from_millis(50),
        ])
        .disable_after(Duration::from_millis(100));
    strict
        .endpoint("dead", "http://127.0.0.1:9/in", SECRET)
        .unwrap();
    strict
        .publish(
            "dead",
            "b",
            &InvoicePaid {
                invoice: "b".into(),
                amount: 2,
            },
        )
        .unwrap();
    strict
        .publish(
            "dead",
            "c",
            &InvoicePaid {
                invoice: "c".into(),
                amount: 3,
            },
        )
        .unwrap();
    let m = drive(&strict, &s, "b", |st| st == MessageStatus::Failed).await;
    assert!(m
        .attempts
        .iter()
        .all(|a| a.status.is_none() && a.error.is_some()));
    assert!(s.endpoint("dead").unwrap().unwrap().disabled);
    assert_eq!(
        s.message("c").unwrap().unwrap().status,
        MessageStatus::Failed
    );
}

/// An endpoint whose secret is a `whsk_` ed25519 key gets `v1a` signatures, which the
/// receiver checks with the public `whpk_` key only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1a_endpoints_are_signed_with_ed25519() {
    let (sk, pk) = acl_runtime::webhook::signature::ed25519_keys_from_seed(&[42u8; 32]).unwrap();
    let verified = Arc::new(Mutex::new(Vec::new()));
    let v = verified.clone();
    let verifier = Arc::new(Verifier::new(Scheme::Standard, [pk.as_str()]).unwrap());
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (v, verifier) = (v.clone(), verifier.clone());
            async move {
                let r = verifier.verify(&headers, &body);
                v.lock().unwrap().push(r.map(|ok| ok.version));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = store("v1a");
    let sender = Sender::http(s.clone(), Destinations::Any).unwrap();
    sender.endpoint("ed", &url, &sk).unwrap();
    assert!(
        sender.endpoint("bad", &url, &pk).is_err(),
        "a public key cannot sign"
    );
    sender
        .publish(
            "ed",
            "m-ed",
            &InvoicePaid {
                invoice: "in_ed".into(),
                amount: 5,
            },
        )
        .unwrap();
    drive(&sender, &s, "m-ed", |st| st == MessageStatus::Delivered).await;
    assert_eq!(*verified.lock().unwrap(), vec![Ok("v1a")]);
}

#[tokio::test]
async fn publishing_to_an_unregistered_endpoint_is_refused() {
    let s = store("unknown");
    let sender = Sender::http(s.clone(), Destinations::Any).unwrap();
    let e = sender
        .publish(
            "nobody",
            "m",
            &InvoicePaid {
                invoice: "x".into(),
                amount: 1,
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("no endpoint `nobody`"), "{e}");
    assert!(s.message("m").unwrap().is_none(), "nothing stored");
}

#[tokio::test]
async fn endpoints_outside_http_or_on_private_addresses_are_refused_by_default() {
    let s = store("ssrf-register");
    let sender = Sender::http(s.clone(), Destinations::Public).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://[::1]:8080/",
        "http://10.0.0.5/admin",
        "file:///etc/passwd",
        "not a url",
    ] {
        let e = sender.endpoint("ep", url, SECRET).unwrap_err();
        assert!(e.to_string().contains("endpoint `ep`"), "{url}: {e}");
    }
    assert!(s.endpoint("ep").unwrap().is_none(), "nothing registered");
    // The secret is checked too: an empty one would sign with a key anybody knows.
    let e = sender
        .endpoint("ep", "https://hooks.example.com/in", "")
        .unwrap_err();
    assert!(e.to_string().contains("secret is empty"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_to_loopback_is_refused_on_every_attempt_and_nothing_is_sent() {
    let endpoint = Endpoint::default();
    let url = serve(endpoint.clone()).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let s = store("ssrf-dns");
    let sender = Sender::http(s.clone(), Destinations::Public)
        .unwrap()
        .schedule(vec![Duration::ZERO, Duration::from_millis(20)]);
    sender.endpoint("ep", &by_name, SECRET).unwrap();
    sender
        .publish(
            "ep",
            "m-dns",
            &InvoicePaid {
                invoice: "x".into(),
                amount: 1,
            },
        )
        .unwrap();
    let m = drive(&sender, &s, "m-dns", |st| st == MessageStatus::Failed).await;
    assert_eq!(m.attempts.len(), 2);
    let error = m.attempts[0].error.clone().unwrap_or_default();
    assert!(error.contains("not a public address"), "{error}");
    assert!(
        endpoint.seen.lock().unwrap().is_empty(),
        "nothing reached loopback"
    );
}

/// An endpoint that answers every POST with `status` and `Location: target`.
async fn redirecting(status: u16, target: String) -> String {
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move || {
            let target = target.clone();
            async move {
                let mut r = StatusCode::from_u16(status).unwrap().into_response();
                r.headers_mut().insert("location", target.parse().unwrap());
                r
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_failed_attempts_never_followed() {
    for status in [307, 302, 301, 308] {
        let elsewhere = Endpoint::default();
        let target = serve(elsewhere.clone()).await;
        let url = redirecting(status, target).await;
        let s = store(&format!("redirect-{status}"));
        let sender = Sender::http(s.clone(), Destinations::Any)
            .unwrap()
            .schedule(vec![Duration::ZERO]);
        sender.endpoint("ep", &url, SECRET).unwrap();
        sender
            .publish(
                "ep",
                "m",
                &InvoicePaid {
                    invoice: "x".into(),
                    amount: 1,
                },
            )
            .unwrap();
        let m = drive(&sender, &s, "m", |st| st == MessageStatus::Failed).await;
        assert_eq!(m.attempts[0].status, Some(status));
        let error = m.attempts[0].error.clone().unwrap_or_default();
        assert!(error.contains("redirects are not followed"), "{error}");
        assert!(
            elsewhere.seen.lock().unwrap().is_empty(),
            "{status} was followed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_response_body_is_not_read() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                // 1 MiB chunks until the reader goes away (or 768 MiB).
                let chunks = futures_util::stream::iter(0..768).map(move |_| {
                    counter.fetch_add(1 << 20, Ordering::Relaxed);
                    Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1 << 20]))
                });
                axum::response::Response::new(axum::body::Body::from_stream(chunks))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = store("endless");
    let sender = Sender::http(s.clone(), Destinations::Any).unwrap();
    sender.endpoint("ep", &url, SECRET).unwrap();
    sender
        .publish(
            "ep",
            "m",
            &InvoicePaid {
                invoice: "x".into(),
                amount: 1,
            },
        )
        .unwrap();
    let m = drive(&sender, &s, "m", |st| st == MessageStatus::Delivered).await;
    assert_eq!(m.attempts[0].status, Some(200));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = produced.load(Ordering::Relaxed);
    assert!(
        sent < 64 << 20,
        "the server produced {sent} bytes: the body was read"
    );
}

#[test]
fn an_endpoint_never_prints_its_secret() {
    let e = acl_runtime::store::Endpoint {
        id: "ep".into(),
        url: "https://hooks.example.com/in".into(),
        secret: SECRET.into(),
        disabled: false,
        failing_since: None,
    };
    let printed = format!("{e:?} {e:#?}");
    assert!(!printed.contains("MfKQ9r8"), "{printed}");
    assert!(printed.contains("hooks.example.com"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_transport_refuses_a_private_address_when_it_connects() {
    use acl_runtime::transport::Transport;
    // The sender's own check comes first; this is the second line of defence, for a
    // name that resolved to a public address at the check and a private one now.
    let endpoint = Endpoint::default();
    let url = serve(endpoint.clone())
        .await
        .replace("127.0.0.1", "localhost");
    let request = || {
        http::Request::post(url.as_str())
            .body(bytes::Bytes::from_static(b"{}"))
            .unwrap()
    };
    let public = acl_runtime::webhook::destination::transport(Destinations::Public).unwrap();
    let e = public.send(request()).await.unwrap_err();
    assert!(e.message.contains("not public"), "{e}");
    assert!(
        endpoint.seen.lock().unwrap().is_empty(),
        "nothing reached loopback"
    );
    let any = acl_runtime::webhook::destination::transport(Destinations::Any).unwrap();
    assert_eq!(any.send(request()).await.unwrap().status(), 204);
}
