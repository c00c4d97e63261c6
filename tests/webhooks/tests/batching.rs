//! Batching against a bulk endpoint on 127.0.0.1 that fails some items: every caller
//! gets its own item's outcome, only failed items are sent again (by class), and no
//! item is ever sent again once it succeeded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acl_runtime::patterns::batch::{BatchConfig, BatchError, Batcher, ItemOutcome};
use acl_runtime::resilience::classify::FailureClass;
use acl_runtime::resilience::retry::Backoff;
use serde_json::{json, Value};

#[derive(Default)]
struct Vendor {
    /// Every item id received, in order, across calls.
    received: Mutex<Vec<u64>>,
    /// How often each id has been seen.
    seen: Mutex<HashMap<u64, u32>>,
    created: Mutex<Vec<u64>>,
}

async fn bulk(
    axum::extract::State(v): axum::extract::State<Arc<Vendor>>,
    body: axum::body::Bytes,
) -> String {
    let items: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let mut out = Vec::new();
    for item in items {
        let id = item["id"].as_u64().unwrap();
        v.received.lock().unwrap().push(id);
        let n = {
            let mut s = v.seen.lock().unwrap();
            let e = s.entry(id).or_default();
            *e += 1;
            *e
        };
        // Every third item fails once (busy); items over 1000 are invalid; item 7 is
        // rate limited twice.
        let status = if id > 1000 {
            422
        } else if id == 7 && n <= 2 {
            429
        } else if id % 3 == 0 && n == 1 {
            503
        } else {
            v.created.lock().unwrap().push(id);
            201
        };
        out.push(json!({"id": id, "status": status}));
    }
    serde_json::to_string(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_failures_retry_only_the_failed_items() {
    let vendor = Arc::new(Vendor::default());
    let app = axum::Router::new()
        .route("/bulk", axum::routing::post(bulk))
        .with_state(vendor.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bulk", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let batcher: Batcher<u64, u64, String> = Batcher::spawn(
        BatchConfig {
            max_items: 8,
            max_wait: Duration::from_millis(20),
            queue: 64,
            max_attempts: 4,
            backoff: Backoff::fixed(Duration::from_millis(20)),
        },
        move |ids: Vec<u64>| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let body: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
                let resp = client
                    .post(&url)
                    .body(serde_json::to_vec(&body).unwrap())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| (e.to_string(), FailureClass::Transient))?;
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| (e.to_string(), FailureClass::Transient))?;
                let results: Vec<Value> = serde_json::from_slice(&bytes)
                    .map_err(|e| (e.to_string(), FailureClass::InvalidData))?;
                Ok(results
                    .into_iter()
                    .map(|r| match r["status"].as_u64().unwrap() {
                        201 => ItemOutcome::Ok(r["id"].as_u64().unwrap()),
                        429 => ItemOutcome::Failed {
                            error: "429".into(),
                            class: FailureClass::RateLimited {
                                retry_after: Some(Duration::from_millis(50)),
                            },
                        },
                        503 => ItemOutcome::Failed {
                            error: "503".into(),
                            class: FailureClass::Transient,
                        },
                        s => ItemOutcome::Failed {
                            error: s.to_string(),
                            class: FailureClass::Permanent,
                        },
                    })
                    .collect())
            }
        },
    );
    let mut callers = Vec::new();
    for id in (1..=30).chain([1001, 1002]) {
        let b = batcher.clone();
        callers.push(tokio::spawn(async move { (id, b.submit(id).await) }));
    }
    for c in callers {
        let (id, result) = c.await.unwrap();
        if id > 1000 {
            assert!(
                matches!(
                    result,
                    Err(BatchError::Failed {
                        class: FailureClass::Permanent,
                        attempts: 1,
                        ..
                    })
                ),
                "{id}: {result:?}"
            );
        } else {
            assert_eq!(result, Ok(id), "each caller gets its own item");
        }
    }
    let created = vendor.created.lock().unwrap().clone();
    let mut sorted = created.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), created.len(), "no item created twice");
    assert_eq!(sorted, (1..=30).collect::<Vec<_>>());
    let seen = vendor.seen.lock().unwrap().clone();
    // Sent again only when it failed: multiples of 3 twice, 7 three times, the rest once.
    for id in 1..=30u64 {
        let expected = if id == 7 {
            3
        } else if id % 3 == 0 {
            2
        } else {
            1
        };
        assert_eq!(seen[&id], expected, "item {id}");
    }
    assert_eq!(seen[&1001], 1, "permanent failures are not retried");
}
