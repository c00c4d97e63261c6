//! Asynchronous request-reply against a vendor on 127.0.0.1 that answers 202 with a
//! status URL: completion by polling, a job that never completes (deadline), a terminal
//! failure, cancellation, and callbacks through the real webhook inbox — including one
//! that arrives before the first poll.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use acl_runtime::patterns::async_reply::{CallbackHub, Job, JobError, JobStatus, JobWaiter};
use acl_runtime::resilience::retry::Backoff;
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::Delivery;
use acl_runtime::transport::{ReqwestTransport, Transport};
use acl_runtime::webhook::{InboxWorker, Receiver, Scheme, Signer, Verifier};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Default)]
struct Vendor {
    polls: AtomicU32,
}

async fn create() -> impl IntoResponse {
    (
        StatusCode::ACCEPTED,
        [("location", "/jobs/quick"), ("retry-after", "0")],
        "",
    )
}

async fn status(State(v): State<Arc<Vendor>>, Path(id): Path<String>) -> impl IntoResponse {
    let n = v.polls.fetch_add(1, Ordering::SeqCst) + 1;
    let body = match id.as_str() {
        "quick" if n >= 3 => r#"{"state":"done","result":42}"#,
        "declined" if n >= 2 => r#"{"state":"failed","reason":"card declined"}"#,
        _ => r#"{"state":"running"}"#,
    };
    (StatusCode::OK, body)
}

async fn vendor() -> (String, Arc<Vendor>) {
    let v = Arc::new(Vendor::default());
    let app = axum::Router::new()
        .route("/jobs", axum::routing::post(create))
        .route("/jobs/{id}", axum::routing::get(status))
        .with_state(v.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, v)
}

fn read(_status: u16, body: &[u8]) -> JobStatus<u64> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match v["state"].as_str() {
        Some("done") => JobStatus::Done(v["result"].as_u64().unwrap_or(0)),
        Some("failed") => JobStatus::Failed(v["reason"].as_str().unwrap_or("").to_owned()),
        _ => JobStatus::Running,
    }
}

fn waiter(deadline_ms: u64) -> JobWaiter {
    JobWaiter::new(
        Arc::new(ReqwestTransport::default()),
        Duration::from_millis(deadline_ms),
    )
    .backoff(Backoff::fixed(Duration::from_millis(20)))
    .poll_timeout(Duration::from_secs(2))
}

fn job(base: &str, id: &str) -> Job {
    Job {
        status_url: format!("{base}/jobs/{id}"),
        retry_after: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_202_is_polled_to_completion() {
    let (base, v) = vendor().await;
    let t = ReqwestTransport::default();
    let accepted = t
        .send(
            http::Request::post(format!("{base}/jobs"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let job = Job::from_accepted(&format!("{base}/jobs"), accepted.headers()).unwrap();
    assert_eq!(
        job.status_url,
        format!("{base}/jobs/quick"),
        "relative Location resolved"
    );
    assert_eq!(job.retry_after, Some(Duration::ZERO));
    let result = waiter(5_000)
        .wait(&job, None, read, std::future::pending())
        .await;
    assert_eq!(result, Ok(42));
    assert_eq!(v.polls.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_completes_ends_at_the_deadline_and_a_failed_one_at_once() {
    let (base, _) = vendor().await;
    let started = Instant::now();
    let r = waiter(300)
        .wait(&job(&base, "stuck"), None, read, std::future::pending())
        .await;
    let waited = started.elapsed();
    match r {
        Err(JobError::Deadline { polls, .. }) => assert!(polls >= 3, "{polls}"),
        other => panic!("{other:?}"),
    }
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let r = waiter(5_000)
        .wait(&job(&base, "declined"), None, read, std::future::pending())
        .await;
    assert!(
        matches!(&r, Err(JobError::Failed { reason, .. }) if reason == "card declined"),
        "{r:?}"
    );
    let r = waiter(5_000)
        .wait(
            &job(&base, "stuck"),
            None,
            read,
            tokio::time::sleep(Duration::from_millis(50)),
        )
        .await;
    assert!(matches!(r, Err(JobError::Cancelled { .. })), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_through_the_inbox_complete_the_wait_even_before_the_first_poll() {
    let (base, v) = vendor().await;
    // Our webhook receiver: callbacks land in the inbox, a worker hands them to the hub.
    let path = std::env::temp_dir().join(format!("acl-async-{}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let receiver = Receiver::with_inbox_dedupe(
        "jobs",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
    );
    let app = axum::Router::new().route(
        "/callbacks",
        acl_runtime::webhook::axum::post(Arc::new(receiver)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callbacks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let hub = CallbackHub::new();
    let worker = InboxWorker::new(store.clone()).idle_wait(Duration::from_millis(5));
    let h = hub.clone();
    tokio::spawn(async move {
        worker
            .run(
                move |d: Delivery| {
                    let h = h.clone();
                    async move {
                        let v: serde_json::Value =
                            serde_json::from_slice(&d.delivery.body).unwrap();
                        h.deliver(
                            v["job"].as_str().unwrap(),
                            Bytes::from(d.delivery.body.clone()),
                        );
                        Ok(())
                    }
                },
                std::future::pending(),
            )
            .await
    });
    let send_callback = |job: &'static str, state: &'static str, delay_ms: u64| {
        let url = callback_url.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let body = format!(r#"{{"job":"{job}","state":"{state}","result":7}}"#);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let headers: HeaderMap = Signer::new(Scheme::Standard, SECRET)
                .unwrap()
                .sign(&format!("cb-{job}-{state}"), now, body.as_bytes())
                .unwrap();
            let mut r = http::Request::post(url).body(Bytes::from(body)).unwrap();
            r.headers_mut().extend(headers);
            assert_eq!(
                ReqwestTransport::default().send(r).await.unwrap().status(),
                200
            );
        }
    };
    // The callback beats the first poll: the wait returns without polling.
    send_callback("early", "done", 0).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // processed from the inbox
    let before = v.polls.load(Ordering::SeqCst);
    let r = waiter(5_000)
        .wait(
            &job(&base, "stuck"),
            Some((&hub, "early")),
            read,
            std::future::pending(),
        )
        .await;
    assert_eq!(r, Ok(7));
    assert_eq!(v.polls.load(Ordering::SeqCst), before, "no poll was needed");
    // The callback arrives while the job still polls as running.
    tokio::spawn(send_callback("late", "done", 150));
    let started = Instant::now();
    let r = waiter(5_000)
        .wait(
            &job(&base, "stuck"),
            Some((&hub, "late")),
            read,
            std::future::pending(),
        )
        .await;
    assert_eq!(r, Ok(7));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        v.polls.load(Ordering::SeqCst) > before,
        "it polled while waiting"
    );
    // A progress callback ("running") does not end the wait; the final one does.
    tokio::spawn(send_callback("progress", "running", 50));
    tokio::spawn(send_callback("progress", "done", 300));
    let started = Instant::now();
    let r = waiter(5_000)
        .wait(
            &job(&base, "stuck"),
            Some((&hub, "progress")),
            read,
            std::future::pending(),
        )
        .await;
    assert_eq!(r, Ok(7));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}
