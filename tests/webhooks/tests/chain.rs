//! The synchronous-chain guard with real parts: an axum service on 127.0.0.1 behind
//! `ChainLayer` whose handlers call a vendor on 127.0.0.1 through acl's pipeline. The
//! handler that calls three times in a row trips the guard; the one that calls three
//! times at once does not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker};
use acl_runtime::resilience::chain::{assert_at_most, ChainLayer, ChainReport};
use acl_runtime::resilience::classify::{Idempotency, Outcome};
use acl_runtime::resilience::pipeline::{AttemptError, Operation, System};
use acl_runtime::resilience::retry::{Backoff, RetryBudget, RetryPolicy};
use acl_runtime::transport::{ReqwestTransport, Transport};
use bytes::Bytes;

async fn vendor() -> String {
    let app = axum::Router::new().route(
        "/thing",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/thing", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn operation() -> Arc<Operation> {
    let system = Arc::new(System::new(
        "crm",
        CircuitBreaker::new(BreakerConfig::default()).unwrap(),
        RetryBudget::new(Duration::from_secs(10), 0.2, 10).unwrap(),
    ));
    Arc::new(
        Operation::new(
            "get_thing",
            system,
            Duration::from_secs(2),
            Duration::from_secs(5),
            RetryPolicy::new(
                2,
                Duration::from_secs(5),
                Backoff::fixed(Duration::from_millis(10)),
            )
            .unwrap(),
            Idempotency::Idempotent,
        )
        .unwrap(),
    )
}

async fn call(op: &Operation, url: &str) {
    let t = ReqwestTransport::default();
    op.call(|_| async {
        let r = http::Request::get(url).body(Bytes::new()).unwrap();
        t.send(r).await.map_err(|e| AttemptError {
            outcome: Outcome::ConnectFailed,
            retry_after: None,
            error: e.to_string(),
        })
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sequential_calls_in_a_request_trip_the_guard() {
    let url = vendor().await;
    let op = operation();
    let tripped: Arc<Mutex<Vec<(String, ChainReport)>>> = Arc::default();
    let t = tripped.clone();
    let (o1, u1, o2, u2) = (op.clone(), url.clone(), op.clone(), url.clone());
    let app = axum::Router::new()
        .route(
            "/chained",
            axum::routing::get(move || {
                let (op, url) = (o1.clone(), u1.clone());
                async move {
                    for _ in 0..3 {
                        call(&op, &url).await;
                    }
                    "done"
                }
            }),
        )
        .route(
            "/fanned",
            axum::routing::get(move || {
                let (op, url) = (o2.clone(), u2.clone());
                async move {
                    tokio::join!(call(&op, &url), call(&op, &url), call(&op, &url));
                    "done"
                }
            }),
        )
        .layer(ChainLayer::new(2).on_exceeded(move |name, report| {
            t.lock().unwrap().push((name.to_owned(), report.clone()))
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    for path in ["/chained", "/fanned"] {
        let r = client
            .get(format!("{base}{path}"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let tripped = tripped.lock().unwrap().clone();
    assert_eq!(tripped.len(), 1, "only the chained request: {tripped:?}");
    let (name, report) = &tripped[0];
    assert_eq!(name, "GET /chained");
    assert_eq!((report.calls, report.sequential), (3, 3));
    assert!(
        report.total_latency >= Duration::from_millis(30),
        "{report:?}"
    );
    assert_eq!(report.systems, vec!["crm".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "made 3 sequential external calls (limit 2)")]
async fn assert_at_most_fails_a_test_that_chains_real_calls() {
    let url = vendor().await;
    let op = operation();
    assert_at_most(2, async {
        for _ in 0..3 {
            call(&op, &url).await;
        }
    })
    .await;
}
