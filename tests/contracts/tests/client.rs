//! The client generated from `acl-codegen/tests/contracts/client.yaml` against a real
//! HTTP server on 127.0.0.1 (axum, in-process) that plays the vendor and injects faults:
//! latency past the timeout, 5xx bursts, 429 with Retry-After in both forms, a reset
//! connection, a refused connection, a wrong content type, a body that breaks the
//! contract. Each test asserts the outcome (class), the number of attempts the server
//! saw, and, where backoff or waiting is involved, that the elapsed time is at least
//! what the policy must wait and below the call's deadline.
//!
//! Real sockets and tokio's paused clock do not mix (a paused runtime waiting on a socket
//! jumps to its next timer), so these tests use real time with short policies from the
//! contract (50 ms backoff, 300 ms timeout); the pipeline's exact timings are tested in
//! paused time in acl-runtime.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use acl_contract_tests::client::client::*;
use acl_contract_tests::client::types;
use acl_runtime::client::{Credential, Error, Multipart, TransportErrorKind};
use acl_runtime::resilience::classify::FailureClass;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// A request as the vendor saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the vendor answers next.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

impl Reply {
    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }
    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Vendor {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    tokens: Mutex<u32>,
    /// Lets `/files/stream.bin` send its second chunk.
    go_on: tokio::sync::Notify,
}

impl Vendor {
    fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn tokens(&self) -> u32 {
        *self.tokens.lock().unwrap()
    }
}

async fn handle(State(v): State<Arc<Vendor>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    if parts.uri.path() == "/token" {
        let mut n = v.tokens.lock().unwrap();
        *n += 1;
        let ok = parts.headers.get("authorization").and_then(|h| h.to_str().ok())
            == Some("Basic aWQ6czNjcjN0") // id:s3cr3t
            && body.starts_with(b"grant_type=client_credentials");
        let (status, text) = if ok {
            (
                200,
                format!(r#"{{"access_token":"tok-{n}","expires_in":3600}}"#),
            )
        } else {
            (401, "{}".into())
        };
        return Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(text))
            .unwrap();
    }
    if parts.uri.path().ends_with("/files/stream.bin") {
        // One chunk now, the next only when the test says so.
        let body = futures_util::stream::unfold(0, move |step| {
            let v = v.clone();
            async move {
                match step {
                    0 => Some((Ok::<_, std::io::Error>(b"first ".to_vec()), 1)),
                    1 => {
                        v.go_on.notified().await;
                        Some((Ok(b"second".to_vec()), 2))
                    }
                    _ => None,
                }
            }
        });
        return Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(Body::from_stream(body))
            .unwrap();
    }
    v.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body,
    });
    let next = v.script.lock().unwrap().pop_front();
    let Some(r) = next else {
        return Response::builder()
            .status(StatusCode::IM_A_TEAPOT)
            .body(Body::from("the test scripted no more replies"))
            .unwrap();
    };
    tokio::time::sleep(r.delay).await;
    let mut b = Response::builder().status(r.status);
    for (k, val) in r.headers {
        b = b.header(k, val);
    }
    b.body(Body::from(r.body)).unwrap()
}

/// The vendor on a free loopback port; it stops with the test's runtime.
async fn vendor() -> (Arc<Vendor>, String) {
    let v = Arc::new(Vendor::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(handle).with_state(v.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (v, base)
}

fn client(base: &str) -> Client {
    let origin = base.trim_end_matches("/v1");
    Client::builder()
        .base_url(base)
        .api_key("key-123")
        .bearer_token("bearer-456")
        .basic_auth("user", "pass word")
        .credential(
            "oauth",
            Credential::ClientCredentials {
                client_id: "id".into(),
                client_secret: "s3cr3t".into(),
                scopes: vec!["files:write".into()],
                token_url: Some(format!("{origin}/token")),
            },
        )
        .build()
        .unwrap()
}

const CHARGE: &str =
    r#"{"id":"ch_1","amount":500,"currency":"EUR","status":"succeeded","description":null}"#;
const ERROR: &str = r#"{"code":"nope","message":"no"}"#;

fn new_charge() -> types::NewCharge {
    serde_json::from_str(r#"{"amount": 500, "currency": "EUR"}"#).unwrap()
}

#[tokio::test]
async fn parameters_headers_cookies_and_api_key_reach_the_vendor() {
    let (v, base) = vendor().await;
    v.script([reply(200, &format!("[{CHARGE}]"))
        .with("x-total-count", "41")
        .with("x-next-cursor", "abc")]);
    let options = ListChargesOptions {
        limit: Some(serde_json::from_str("10").unwrap()),
        status: Some(vec![
            types::ChargeStatus::Pending,
            types::ChargeStatus::Failed,
        ]),
        created: Some(serde_json::from_str(r#"{"gte": 1, "lt": 2}"#).unwrap()),
        x_request_id: Some("req 1".into()),
        session: Some("s=1".into()),
    };
    // The only success status: the match is irrefutable.
    let ListChargesResponse::Ok { body, headers } =
        client(&base).list_charges(&options).await.unwrap();
    assert_eq!(body.len(), 1);
    assert_eq!(body[0].id, "ch_1");
    assert_eq!(headers.x_total_count, 41, "a required header, typed");
    assert_eq!(headers.x_next_cursor.as_deref(), Some("abc"));
    let seen = v.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.method, "GET");
    assert_eq!(
        s.uri,
        "/v1/charges?limit=10&status=pending&status=failed&created%5Bgte%5D=1&created%5Blt%5D=2"
    );
    assert_eq!(s.header("x-request-id"), Some("req 1"));
    assert_eq!(s.header("cookie"), Some("session=s%3D1"));
    assert_eq!(s.header("x-api-key"), Some("key-123"));
    assert_eq!(s.header("accept"), Some("application/json"));
    assert_eq!(
        s.header("authorization"),
        None,
        "listCharges uses the API key only"
    );
}

#[tokio::test]
async fn a_5xx_burst_is_retried_with_one_idempotency_key() {
    let (v, base) = vendor().await;
    v.script([reply(503, ERROR), reply(502, ERROR), reply(201, CHARGE)]);
    let started = Instant::now();
    let r = client(&base)
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap();
    assert!(matches!(r, CreateChargeResponse::Created(ref c) if c.id == "ch_1"));
    let seen = v.seen();
    assert_eq!(seen.len(), 3, "two failures, then success");
    let keys: Vec<_> = seen
        .iter()
        .map(|s| s.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(keys[0].len(), 36, "a UUID: {}", keys[0]);
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "the same key on every retry: {keys:?}"
    );
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&seen[0].body).unwrap(),
        serde_json::json!({"amount": 500, "currency": "EUR"})
    );
    // Backoff from the contract: 50 ms, then 100 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );

    // A second call gets a new key.
    v.script([reply(201, CHARGE)]);
    client(&base)
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Form(new_charge()),
        )
        .await
        .unwrap();
    let last = v.seen().pop().unwrap();
    assert_ne!(last.header("idempotency-key").unwrap(), keys[0]);
    assert_eq!(
        last.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(last.body, b"amount=500&currency=EUR");
}

#[tokio::test]
async fn documented_errors_arrive_typed_after_the_retries_their_class_allows() {
    let (v, base) = vendor().await;
    v.script((0..3).map(|_| reply(500, ERROR)));
    let e = client(&base)
        .create_charge(
            &CreateChargeOptions {
                idempotency_key: Some("my-key".into()),
            },
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap_err();
    match &e {
        Error::Status {
            status: 500,
            response: CreateChargeError::Status5xx { status: 500, body },
            attempts: 3,
            ..
        } => assert_eq!(body.code, "nope"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.class(), FailureClass::Transient);
    assert!(v
        .seen()
        .iter()
        .all(|s| s.header("idempotency-key") == Some("my-key")));

    // A documented 4xx is permanent: one attempt.
    v.script([reply(400, ERROR)]);
    let e = client(&base)
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Status {
                status: 400,
                attempts: 1,
                response: CreateChargeError::BadRequest(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), FailureClass::Permanent);
    assert_eq!(v.seen().len(), 4);
}

#[tokio::test]
async fn a_post_without_a_key_is_not_retried_and_a_declared_idempotent_post_is() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([reply(503, ERROR)]);
    let e = c
        .post_charges_by_charge_id_refunds("ch/1", Some("duplicate".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::UndocumentedStatus {
                status: 503,
                attempts: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let seen = v.seen();
    assert_eq!(seen.len(), 1, "a POST without a key is never repeated");
    assert_eq!(
        seen[0].uri, "/v1/charges/ch%2F1/refunds",
        "path segments are encoded"
    );
    assert_eq!(seen[0].header("content-type"), Some("text/plain"));
    assert_eq!(seen[0].body, b"duplicate");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic dXNlcjpwYXNzIHdvcmQ=")
    );

    // `x-acl-idempotent: true` makes this POST safe to repeat.
    v.script([reply(502, ERROR), reply(200, "[]")]);
    let body: types::SearchChargesBody = serde_json::from_str(r#"{"query": "x"}"#).unwrap();
    let r = c.search_charges(&body).await.unwrap();
    assert!(matches!(r, SearchChargesResponse::Ok(ref l) if l.is_empty()));
    assert_eq!(v.seen().len(), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_in_both_forms() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([reply(429, "").with("retry-after", "1"), reply(200, CHARGE)]);
    let started = Instant::now();
    let r = c.get_charge("ch_1").await.unwrap();
    assert!(matches!(r, GetChargeResponse::Ok(_)));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(v.seen().len(), 2);

    // HTTP-date form, two seconds ahead (dates have one-second resolution).
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    v.script([reply(429, "").with("retry-after", at), reply(200, CHARGE)]);
    let started = Instant::now();
    c.get_charge("ch_1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within the deadline"
    );
    assert_eq!(v.seen().len(), 4);
    assert_eq!(
        v.seen()[0].header("authorization"),
        Some("Bearer bearer-456")
    );
}

#[tokio::test]
async fn a_vendor_saying_nothing_is_left_holds_the_next_call_back_until_its_reset() {
    let (v, base) = vendor().await;
    let c = client(&base);
    // A success that says the window is spent for one more second.
    v.script([
        reply(200, CHARGE)
            .with("ratelimit-remaining", "0")
            .with("ratelimit-reset", "1"),
        reply(200, CHARGE),
    ]);
    c.get_charge("ch_1").await.unwrap();
    let started = Instant::now();
    c.get_charge("ch_1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the second call waited for the reset: {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within the deadline"
    );
    assert_eq!(v.seen().len(), 2, "and no 429 was provoked");
}

#[tokio::test]
async fn latency_past_the_timeout_times_out_every_attempt_within_the_deadline() {
    let (v, base) = vendor().await;
    v.script((0..3).map(|_| reply(201, CHARGE).after(Duration::from_secs(2))));
    let started = Instant::now();
    let e = client(&base)
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { attempts: 3, .. }), "{e:?}");
    assert_eq!(e.class(), FailureClass::Transient);
    let took = started.elapsed();
    // Three 300 ms attempts and 150 ms of backoff; never the server's 2 s, never past 5 s.
    assert!(took >= Duration::from_millis(1050), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_post_and_a_reset_one_is_not() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The contract says `x-acl-retry: none` for refunds; code gives it three attempts.
    let three = |base: String| {
        Client::builder()
            .base_url(base)
            .operation("post_charges_by_chargeId_refunds", |o| {
                o.retry.max_attempts = 3
            })
            .build()
            .unwrap()
    };
    let c = three(format!("http://127.0.0.1:{port}/v1"));
    let e = c
        .post_charges_by_charge_id_refunds("ch_1", None)
        .await
        .unwrap_err();
    match &e {
        Error::Transport {
            error, attempts, ..
        } => {
            assert_eq!(error.kind, TransportErrorKind::Connect);
            assert_eq!(*attempts, 3, "the request never left: safe to repeat");
        }
        other => panic!("{other:?}"),
    }

    // A server that reads the request and hangs up: the request may have been acted on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0u32));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(3) {
            use std::io::Read;
            let mut s = stream.unwrap();
            *count.lock().unwrap() += 1;
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            drop(s);
        }
    });
    let c = three(format!("http://{addr}/v1"));
    let e = c
        .post_charges_by_charge_id_refunds("ch_1", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Transport { attempts: 1, error, .. } if error.kind == TransportErrorKind::Reset),
        "{e:?}"
    );
    assert_eq!(*accepted.lock().unwrap(), 1);
}

#[tokio::test]
async fn responses_that_break_the_contract_are_invalid_data_with_the_raw_body() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([reply(200, "<html>maintenance</html>").with("content-type", "text/html")]);
    let e = c.get_charge("ch_1").await.unwrap_err();
    match &e {
        Error::InvalidBody {
            status: 200,
            error,
            body,
            ..
        } => {
            assert!(error.message.contains("expected JSON"), "{error}");
            assert_eq!(&body[..], b"<html>maintenance</html>");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.class(), FailureClass::InvalidData);

    let bad = CHARGE.replace("EUR", "eur");
    v.script([reply(200, &bad)]);
    let e = c.get_charge("ch_1").await.unwrap_err();
    match &e {
        Error::InvalidBody { error, body, .. } => {
            assert_eq!(error.path, "$.currency");
            assert_eq!(error.rule(), Some("pattern"));
            assert_eq!(&body[..], bad.as_bytes(), "kept for the dead-letter sink");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(v.seen().len(), 2, "invalid data is never retried");

    // Documented 404: typed. Undocumented 418: its own error.
    v.script([reply(404, ERROR), reply(418, "teapot")]);
    let e = c.get_charge("missing").await.unwrap_err();
    assert!(
        matches!(e, Error::Status { status: 404, response: GetChargeError::NotFound(ref b), attempts: 1, .. } if b.message == "no"),
        "{e:?}"
    );
    let e = c.get_charge("ch_1").await.unwrap_err();
    assert!(
        matches!(e, Error::UndocumentedStatus { status: 418, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn matrix_paths_text_and_binary_bodies() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([
        reply(200, "a,b\n1,2\n").with("content-type", "text/csv"),
        reply(200, "\u{1}\u{2}\u{3}").with("content-type", "application/octet-stream"),
    ]);
    let r = c.get_reports(&vec![3, 4]).await.unwrap();
    assert!(matches!(r, GetReportsResponse::Ok(ref t) if t == "a,b\n1,2\n"));
    let r = c.download_file("a b.txt").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes().await.unwrap()[..], [1, 2, 3]);
    let seen = v.seen();
    // Matrix style prefixes the value with `;name=`; the template keeps its slash.
    assert_eq!(seen[0].uri, "/v1/reports/;ids=3;ids=4");
    assert_eq!(
        seen[0].header("x-api-key"),
        None,
        "`security: []` sends no credentials"
    );
    assert_eq!(seen[1].uri, "/v1/files/a%20b.txt");
}

#[tokio::test]
async fn a_binary_body_streams_chunk_by_chunk() {
    let (v, base) = vendor().await;
    let c = client(&base);
    // The call returns with the head; the second chunk is not sent yet.
    let mut r = c.download_file("stream.bin").await.unwrap();
    use futures_util::StreamExt as _;
    let first = r.body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first ");
    v.go_on.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = r.body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"second");
}

#[tokio::test]
async fn oauth2_client_credentials_are_fetched_cached_and_refreshed_once_on_401() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([reply(200, r#"{"size": 3}"#), reply(200, r#"{"size": 4}"#)]);
    let form = || {
        Multipart::new().text("description", "a note").file(
            "file",
            "a.bin",
            "application/octet-stream",
            b"\x00\x01\x02",
        )
    };
    let r = c.upload_file("a.bin", form()).await.unwrap();
    assert!(matches!(r, UploadFileResponse::Ok(ref b) if b.size == 3));
    c.upload_file("b.bin", form()).await.unwrap();
    assert_eq!(v.tokens(), 1, "the token is cached");
    let seen = v.seen();
    assert_eq!(seen[0].header("authorization"), Some("Bearer tok-1"));
    let ct = seen[0].header("content-type").unwrap().to_string();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8_lossy(&seen[0].body).into_owned();
    assert!(
        body.contains("name=\"description\"\r\n\r\na note\r\n"),
        "{body}"
    );
    assert!(body.contains("filename=\"a.bin\""), "{body}");

    // The vendor revoked the token: one refresh, then success.
    v.script([reply(401, ERROR), reply(200, r#"{"size": 5}"#)]);
    let r = c.upload_file("c.bin", form()).await.unwrap();
    assert!(matches!(r, UploadFileResponse::Ok(ref b) if b.size == 5));
    assert_eq!(v.tokens(), 2);
    assert_eq!(
        v.seen().last().unwrap().header("authorization"),
        Some("Bearer tok-2")
    );
}

#[tokio::test]
async fn the_breaker_opens_and_calls_then_fail_fast_without_reaching_the_vendor() {
    let (v, base) = vendor().await;
    let c = Client::builder()
        .base_url(&base)
        .api_key("k")
        .bearer_token("t")
        .system(|s| {
            s.breaker_mut().consecutive_failures = Some(3);
            s.breaker_mut().open_for = Duration::from_secs(30);
        })
        .operation("getCharge", |o| o.retry.max_attempts = 1)
        .build()
        .unwrap();
    v.script((0..3).map(|_| reply(500, ERROR)));
    for _ in 0..3 {
        assert!(c.get_charge("x").await.is_err());
    }
    let e = c.get_charge("x").await.unwrap_err();
    assert!(
        matches!(e, Error::CircuitOpen { retry_in, .. } if retry_in > Duration::from_secs(25)),
        "{e:?}"
    );
    assert_eq!(
        v.seen().len(),
        3,
        "the open circuit kept the fourth call home"
    );
}

#[test]
fn settings_are_checked_when_the_client_is_built_and_secrets_never_print() {
    let e = Client::builder()
        .base_url("http://127.0.0.1:1")
        .operation("getCharg", |_| {})
        .build()
        .unwrap_err();
    assert!(e.message.contains("did you mean `getCharge`"), "{e}");
    let e = Client::builder()
        .base_url("http://127.0.0.1:1")
        .operation("getCharge", |o| o.timeout = Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        (e.scope.as_str(), e.path.as_str()),
        ("getCharge", "timeout"),
        "{e}"
    );
    let e = Client::builder().base_url("not a url").build().unwrap_err();
    assert_eq!(e.path, "base_url");
    let e = Client::builder()
        .base_url("http://127.0.0.1:1")
        .credential("bearr", Credential::Bearer("x".into()))
        .build()
        .unwrap_err();
    assert!(e.message.contains("bearer"), "{e}");
    let c = client("http://127.0.0.1:1/v1");
    let printed = format!("{c:?}");
    for secret in ["key-123", "bearer-456", "pass word", "s3cr3t"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    // The contract's server, with its variable at the default, or as chosen.
    let c = Client::builder().build().unwrap();
    assert_eq!(c.core().base_url(), "https://eu.payments.example.com/v1");
    let c = Client::builder()
        .server_variable("region", "us")
        .build()
        .unwrap();
    assert_eq!(c.core().base_url(), "https://us.payments.example.com/v1");
    let e = Client::builder()
        .server_variable("regoin", "us")
        .build()
        .unwrap_err();
    assert_eq!(e.path, "server_variable(regoin)");
}

/// Policies written by hand (the derive checks its own at compile time): a layer that
/// does not read is a build error naming the layer and the setting.
struct HandWritten;

impl acl_runtime::client::Policies for HandWritten {
    const DEFAULTS: &'static str = r#"{"timeout": "soon"}"#;
}

struct BadOperation;

impl acl_runtime::client::Policies for BadOperation {
    const SYSTEM: &'static str = r#"{"breaker": {"window": 20}}"#;
    const OPERATIONS: &'static [(&'static str, &'static str)] =
        &[("getCharge", r#"{"retry": {"jitter": "sometimes"}}"#)];
}

#[test]
fn a_policies_layer_that_does_not_read_names_its_scope_and_setting() {
    let e = Client::builder()
        .policies::<HandWritten>()
        .build()
        .unwrap_err();
    assert_eq!((e.scope.as_str(), e.path.as_str()), ("defaults", "timeout"));
    let e = Client::builder()
        .policies::<BadOperation>()
        .build()
        .unwrap_err();
    assert_eq!(
        (e.scope.as_str(), e.path.as_str()),
        ("getCharge", "retry.jitter")
    );
    assert!(e.message.contains("unknown variant `sometimes`"), "{e}");
}

#[tokio::test]
async fn a_token_endpoint_that_refuses_is_a_request_error_and_nothing_is_sent() {
    let (v, base) = vendor().await;
    let origin = base.trim_end_matches("/v1").to_string();
    let c = Client::builder()
        .base_url(&base)
        .credential(
            "oauth",
            Credential::ClientCredentials {
                client_id: "id".into(),
                client_secret: "wrong".into(),
                scopes: vec![],
                token_url: Some(format!("{origin}/token")),
            },
        )
        .build()
        .unwrap();
    let e = c
        .upload_file("a.bin", Multipart::new().text("x", "y"))
        .await
        .unwrap_err();
    match &e {
        Error::Request { message, .. } => {
            assert!(message.contains("OAuth2 token for `oauth`"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{e:?}").contains("wrong"),
        "the secret never prints"
    );
    assert_eq!(v.tokens(), 1);
    assert!(v.seen().is_empty(), "no call without a token");
}

/// A `202 Accepted` carries its job: the `Location` resolved against the request's
/// URL and `Retry-After`, ready for `acl_runtime::patterns::async_reply::JobWaiter`.
#[tokio::test]
async fn an_accepted_response_carries_its_job() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([reply(202, "")
        .with("location", "../../refunds/rf_9")
        .with("retry-after", "3")]);
    let r = c
        .post_charges_by_charge_id_refunds("ch_1", None)
        .await
        .unwrap();
    let PostChargesByChargeIdRefundsResponse::Accepted { job } = r;
    let job = job.expect("a Location was given");
    assert_eq!(job.status_url, format!("{base}/refunds/rf_9"));
    assert_eq!(job.retry_after, Some(Duration::from_secs(3)));
    v.script([reply(202, "")]);
    let PostChargesByChargeIdRefundsResponse::Accepted { job } = c
        .post_charges_by_charge_id_refunds("ch_1", None)
        .await
        .unwrap();
    assert_eq!(job, None, "no Location, no job");
}

/// A `text/event-stream` response with a schema: each event decoded as the contract's
/// type; one that breaks it is an error naming the path, and the stream goes on.
#[tokio::test]
async fn server_sent_events_arrive_typed() {
    let (v, base) = vendor().await;
    let c = client(&base);
    let body = "data: {\"charge\":\"ch_1\",\"status\":\"pending\"}\n\n: keep-alive\n\nevent: charge\ndata: {\"charge\":\"ch_1\",\ndata: \"status\":\"succeeded\",\"amount\":5}\n\ndata: {\"charge\":\"ch_2\",\"status\":\"pending\",\"amount\":-1}\n\ndata: {\"charge\":\"ch_2\",\"status\":\"failed\"}\n\n";
    v.script([reply(200, body).with("content-type", "text/event-stream")]);
    let mut events = c.stream_charge_events().await.unwrap();
    assert_eq!(events.status, 200);
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(
        (first.charge.as_str(), first.status.as_str()),
        ("ch_1", "pending")
    );
    let second = events.next().await.unwrap().unwrap();
    assert_eq!(second.amount.map(|a| *a), Some(5), "data lines joined");
    match events.next().await.unwrap() {
        Err(acl_runtime::client::EventStreamError::Invalid { error, .. }) => {
            assert!(error.to_string().contains("amount"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    let fourth = events.next().await.unwrap().unwrap();
    assert_eq!(fourth.status.as_str(), "failed");
    assert!(events.next().await.is_none(), "end of stream");
}

#[tokio::test]
async fn per_call_options_apply_to_their_handle_only() {
    let (v, base) = vendor().await;
    let c = client(&base);
    // A per-call timeout shorter than the contract's 1 s fires, once (no retries).
    v.script([reply(201, CHARGE).after(Duration::from_millis(600))]);
    let started = Instant::now();
    let hurried = c.with_options(
        acl_runtime::client::CallOptions::new()
            .timeout(Duration::from_millis(100))
            .no_retry()
            .header("X-Tenant", "acme")
            .idempotency_key("order-42"),
    );
    let e = hurried
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { attempts: 1, .. }), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_millis(550),
        "{:?}",
        started.elapsed()
    );
    // The handle's key is the key of every retry; its header arrives on each attempt.
    let keyed = c.with_options(
        acl_runtime::client::CallOptions::new()
            .header("X-Tenant", "acme")
            .idempotency_key("order-43"),
    );
    v.script([reply(503, ERROR), reply(201, CHARGE)]);
    keyed
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap();
    let seen = v.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].header("idempotency-key"), Some("order-42"));
    for s in &seen[1..] {
        assert_eq!(s.header("idempotency-key"), Some("order-43"));
        assert_eq!(s.header("x-tenant"), Some("acme"));
    }
    // The typed parameter wins over the handle's key.
    v.script([reply(201, CHARGE)]);
    keyed
        .create_charge(
            &CreateChargeOptions {
                idempotency_key: Some("typed".into()),
            },
            CreateChargeBody::Json(new_charge()),
        )
        .await
        .unwrap();
    assert_eq!(v.seen()[3].header("idempotency-key"), Some("typed"));
    // The original client is untouched: its own fresh key, no tenant header.
    v.script([reply(201, CHARGE)]);
    c.create_charge(
        &CreateChargeOptions::default(),
        CreateChargeBody::Json(new_charge()),
    )
    .await
    .unwrap();
    let last = v.seen().pop().unwrap();
    assert_eq!(last.header("idempotency-key").unwrap().len(), 36);
    assert_eq!(last.header("x-tenant"), None);
    // A header the operation declares as a parameter is refused, and nothing is sent.
    let shadowing =
        c.with_options(acl_runtime::client::CallOptions::new().header("x-request-id", "sneaky"));
    let e = shadowing
        .list_charges(&ListChargesOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Request { message, .. } if message.contains("x-request-id")),
        "{e}"
    );
    // A value HTTP does not allow fails the call that would send it.
    let broken = c.with_options(acl_runtime::client::CallOptions::new().header("X-Bad", "a\nb"));
    let e = broken.get_charge("ch_1").await.unwrap_err();
    assert!(
        matches!(&e, Error::Request { message, .. } if message.contains("X-Bad")),
        "{e}"
    );
    assert_eq!(v.seen().len(), 5, "neither refused call reached the vendor");
}

#[tokio::test]
async fn default_headers_reach_every_call_and_may_not_shadow_a_parameter() {
    let (v, base) = vendor().await;
    let c = Client::builder()
        .base_url(&base)
        .api_key("key-123")
        .bearer_token("bearer-456")
        .default_header("Api-Version", "2026-12-01")
        .build()
        .unwrap();
    v.script([reply(200, CHARGE), reply(200, CHARGE)]);
    c.get_charge("ch_1").await.unwrap();
    c.with_options(acl_runtime::client::CallOptions::new().header("api-version", "beta"))
        .get_charge("ch_1")
        .await
        .unwrap();
    let seen = v.seen();
    assert_eq!(seen[0].header("api-version"), Some("2026-12-01"));
    let values: Vec<_> = seen[1].headers.get_all("api-version").iter().collect();
    assert_eq!(
        values,
        ["beta"],
        "a per-call header replaces the default one"
    );
    let e = Client::builder()
        .base_url(&base)
        .default_header("X-Request-Id", "fixed")
        .build()
        .unwrap_err();
    assert!(e.message.contains("listCharges"), "{e}");
    let e = Client::builder()
        .base_url(&base)
        .default_header("Bad Name", "x")
        .build()
        .unwrap_err();
    assert!(e.message.contains("not a valid header name"), "{e}");
}

/// An attempt as a hook saw it: operation, attempt number, path template.
type SeenAttempt = (&'static str, u32, &'static str);

/// Records what it sees and signs each request.
#[derive(Default, Clone)]
struct Recorder {
    attempts: Arc<Mutex<Vec<SeenAttempt>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

impl acl_runtime::client::Hook for Recorder {
    fn before_attempt(
        &self,
        context: &acl_runtime::client::HookContext<'_>,
        request: &mut acl_runtime::client::http::Request<acl_runtime::client::Bytes>,
    ) -> Result<(), acl_runtime::client::HookError> {
        self.attempts.lock().unwrap().push((
            context.operation,
            context.attempt,
            context.path_template,
        ));
        // Everything acl adds is already there: the key, the credentials.
        let key = request
            .headers()
            .get("idempotency-key")
            .map(|k| k.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(request.headers().contains_key("x-api-key"));
        let signature = format!("{}:{}:{key}", request.method(), request.body().len());
        request
            .headers_mut()
            .insert("x-signature", signature.parse().unwrap());
        Ok(())
    }

    fn on_response(
        &self,
        _: &acl_runtime::client::HookContext<'_>,
        response: &acl_runtime::client::http::response::Parts,
    ) {
        self.statuses.lock().unwrap().push(response.status.as_u16());
    }
}

/// Refuses every request.
struct Refuse;

impl acl_runtime::client::Hook for Refuse {
    fn before_attempt(
        &self,
        _: &acl_runtime::client::HookContext<'_>,
        _: &mut acl_runtime::client::http::Request<acl_runtime::client::Bytes>,
    ) -> Result<(), acl_runtime::client::HookError> {
        Err(acl_runtime::client::HookError("no signing key".into()))
    }
}

#[tokio::test]
async fn hooks_see_every_attempt_with_its_operation_and_may_sign_or_stop_it() {
    let (v, base) = vendor().await;
    let recorder = Recorder::default();
    let c = Client::builder()
        .base_url(&base)
        .api_key("key-123")
        .hook(recorder.clone())
        .build()
        .unwrap();
    v.script([reply(503, ERROR), reply(502, ERROR), reply(201, CHARGE)]);
    c.create_charge(
        &CreateChargeOptions {
            idempotency_key: Some("k-1".into()),
        },
        CreateChargeBody::Json(new_charge()),
    )
    .await
    .unwrap();
    assert_eq!(
        *recorder.attempts.lock().unwrap(),
        [
            ("createCharge", 1, "/charges"),
            ("createCharge", 2, "/charges"),
            ("createCharge", 3, "/charges")
        ]
    );
    assert_eq!(*recorder.statuses.lock().unwrap(), [503, 502, 201]);
    for s in v.seen() {
        let expected = format!("POST:{}:k-1", s.body.len());
        assert_eq!(s.header("x-signature"), Some(expected.as_str()));
    }
    // A hook that refuses stops the call before anything is sent, and it is not retried.
    let refusing = Client::builder()
        .base_url(&base)
        .hook(Refuse)
        .build()
        .unwrap();
    let e = refusing.get_charge("ch_1").await.unwrap_err();
    assert!(
        matches!(&e, Error::Request { message, .. } if message.contains("no signing key")),
        "{e}"
    );
    assert_eq!(v.seen().len(), 3);
}

#[tokio::test]
async fn with_meta_gives_status_headers_attempts_and_time_for_successes_and_errors() {
    let (v, base) = vendor().await;
    let c = client(&base);
    v.script([
        reply(503, ERROR),
        reply(201, CHARGE).with("x-request-id", "req-9"),
    ]);
    let r = c
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .with_meta()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.meta.attempts, 2);
    assert_eq!(r.headers()["x-request-id"], "req-9", "an undeclared header");
    assert!(
        r.meta.elapsed >= Duration::from_millis(50),
        "the backoff is inside"
    );
    assert!(matches!(r.value, CreateChargeResponse::Created(_)));
    v.script([reply(404, ERROR).with("x-request-id", "req-10")]);
    let failed = c.get_charge("nope").with_meta().await.unwrap_err();
    assert_eq!(failed.meta.status, Some(404));
    assert_eq!(failed.meta.headers["x-request-id"], "req-10");
    assert_eq!(failed.meta.attempts, 1);
    assert!(matches!(failed.error, Error::Status { status: 404, .. }));
    // No response at all: no status, the attempts still counted.
    v.script((0..3).map(|_| reply(201, CHARGE).after(Duration::from_secs(2))));
    let failed = c
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge()),
        )
        .with_meta()
        .await
        .unwrap_err();
    assert_eq!(failed.meta.status, None);
    assert_eq!(failed.meta.attempts, 3);
    assert!(matches!(failed.error, Error::Timeout { .. }));
}
