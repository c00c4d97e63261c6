//! How long the console's pages take with 10,000 dead letters in a SQLite inbox (and a
//! few thousand outbound messages), over loopback: p50 and p99 of 200 requests each.
//! Goal: under 50 ms (the DLQ is paged, 50 to a page, by `LIMIT … OFFSET`).
//!
//! `cargo run --release -p acl-example-console --example bench_console`

use std::sync::Arc;
use std::time::{Duration, Instant};

use acl_runtime::console::{bearer, Console};
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{Endpoint, InboxStore, NewDelivery, OutboundMessage, OutboxStore};

#[tokio::main]
async fn main() {
    let path =
        std::env::temp_dir().join(format!("acl-bench-console-{}.sqlite", std::process::id()));
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    store
        .with_connection(|c| c.execute_batch("PRAGMA synchronous=OFF"))
        .unwrap();
    for i in 0..10_000 {
        store
            .push(&NewDelivery {
                id: format!("evt-{i}"),
                source: "payments".into(),
                headers: vec![("webhook-id".into(), format!("evt-{i}").into_bytes())],
                body: format!("{{\"type\":\"charge.refunded\",\"amount\":\"x{i}\"}}").into_bytes(),
                key: None,
                received_at: i,
            })
            .unwrap();
        let d = InboxStore::claim(&*store, 100_000, Duration::from_secs(30), false)
            .unwrap()
            .unwrap();
        store
            .dead_letter(&d.delivery.id, "invalid payload at /amount", 100_001)
            .unwrap();
    }
    store
        .upsert_endpoint(&Endpoint {
            id: "orders".into(),
            url: "https://example.invalid/hooks".into(),
            secret: "whsec_AAAA".into(),
            disabled: false,
            failing_since: None,
        })
        .unwrap();
    for i in 0..3_000 {
        store
            .enqueue(
                &OutboundMessage {
                    id: format!("msg-{i}"),
                    endpoint: "orders".into(),
                    event_type: "order.paid".into(),
                    version: "v1".into(),
                    payload: b"{}".to_vec(),
                    created_at: i,
                },
                i,
            )
            .unwrap();
    }
    let app = axum::Router::new().nest_service(
        "/acl",
        Console::new()
            .inbox(store.clone())
            .outbox(store.clone())
            .router(bearer("t")),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    println!("10,000 dead letters, 3,000 outbound messages");
    for (name, path) in [
        ("overview", "/acl/"),
        ("dead letters, first page", "/acl/dlq"),
        ("dead letters, page 100", "/acl/dlq?page=100"),
        ("dead letters, last page", "/acl/dlq?page=199"),
    ] {
        let mut times = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let r = http
                .get(format!("http://{addr}{path}"))
                .bearer_auth("t")
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let _ = r.bytes().await.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{name:<26} p50 {:>6.2} ms  p99 {:>6.2} ms  (goal < 50 ms)",
            times[100].as_secs_f64() * 1e3,
            times[197].as_secs_f64() * 1e3
        );
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
