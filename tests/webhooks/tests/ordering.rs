//! Ordered processing over real HTTP and a real SQLite inbox: deliveries of one key are
//! processed one after the other in arrival order by two concurrent workers, different
//! keys in parallel; sequence numbers that arrive out of order or with gaps are reported.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acl_runtime::patterns::ordering::{SequenceCheck, SequenceTracker};
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::Delivery;
use acl_runtime::webhook::{IdSource, InboxWorker, Receiver, Scheme, Signer, Verifier};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_with_parallel_workers_and_sequence_anomalies_reported() {
    let path = std::env::temp_dir().join(format!("acl-ordering-{}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let receiver = Receiver::with_inbox_dedupe(
        "orders",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store.clone(),
    )
    .order_key_from(IdSource::Json("/order".into()));
    let app = axum::Router::new().route(
        "/hook",
        acl_runtime::webhook::axum::post(Arc::new(receiver)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Arrival order, with (order, seq): o1 gets 1, 2, 4, 3 (3 arrives late), o2 gets 1, 3
    // (2 never arrives), o3 gets 1, 2.
    let arrivals = [
        ("o1", 1),
        ("o2", 1),
        ("o1", 2),
        ("o3", 1),
        ("o1", 4),
        ("o2", 3),
        ("o1", 3),
        ("o3", 2),
    ];
    let client = reqwest::Client::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (i, (order, seq)) in arrivals.iter().enumerate() {
        let body = format!(r#"{{"order":"{order}","seq":{seq}}}"#);
        let headers = Signer::new(Scheme::Standard, SECRET)
            .unwrap()
            .sign(&format!("d{i}"), now, body.as_bytes())
            .unwrap();
        let mut r = client
            .post(format!("http://127.0.0.1:{port}/hook"))
            .body(body);
        for (n, v) in &headers {
            r = r.header(n, v);
        }
        assert!(r.send().await.unwrap().status().is_success());
    }

    let processed = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let inflight = Arc::new(Mutex::new(std::collections::HashSet::<String>::new()));
    let overlap_seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tracker = Arc::new(SequenceTracker::new("orders"));
    let checks = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let (processed, inflight, overlap_seen, tracker, checks) = (
            processed.clone(),
            inflight.clone(),
            overlap_seen.clone(),
            tracker.clone(),
            checks.clone(),
        );
        move |d: Delivery| {
            let (processed, inflight, overlap_seen, tracker, checks) = (
                processed.clone(),
                inflight.clone(),
                overlap_seen.clone(),
                tracker.clone(),
                checks.clone(),
            );
            async move {
                let v: serde_json::Value = serde_json::from_slice(&d.delivery.body).unwrap();
                let (order, seq) = (
                    v["order"].as_str().unwrap().to_owned(),
                    v["seq"].as_u64().unwrap(),
                );
                {
                    let mut f = inflight.lock().unwrap();
                    assert!(f.insert(order.clone()), "two deliveries of {order} at once");
                    if f.len() > 1 {
                        overlap_seen.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
                checks.lock().unwrap().push((
                    order.clone(),
                    seq,
                    tracker.observe(&order, seq).unwrap(),
                ));
                processed.lock().unwrap().push((order.clone(), seq));
                inflight.lock().unwrap().remove(&order);
                Ok(())
            }
        }
    };
    let w = InboxWorker::new(store.clone())
        .in_order(true)
        .idle_wait(Duration::from_millis(5));
    let stop = || tokio::time::sleep(Duration::from_millis(1500));
    tokio::join!(
        w.run(handler.clone(), stop()),
        w.run(handler.clone(), stop())
    );

    let processed = processed.lock().unwrap().clone();
    assert_eq!(processed.len(), arrivals.len());
    for key in ["o1", "o2", "o3"] {
        let got: Vec<u64> = processed
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, s)| *s)
            .collect();
        let sent: Vec<u64> = arrivals
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, s)| *s as u64)
            .collect();
        assert_eq!(got, sent, "{key}: processed in arrival order");
    }
    assert!(
        overlap_seen.load(std::sync::atomic::Ordering::SeqCst),
        "different keys ran in parallel"
    );
    let checks = checks.lock().unwrap().clone();
    let of = |k: &str, s: u64| {
        checks
            .iter()
            .find(|(kk, ss, _)| kk == k && *ss == s)
            .unwrap()
            .2
    };
    assert_eq!(of("o1", 4), SequenceCheck::Gap { from: 3, to: 3 });
    assert_eq!(of("o1", 3), SequenceCheck::OutOfOrder { newest: 4 });
    assert_eq!(of("o2", 3), SequenceCheck::Gap { from: 2, to: 2 });
    assert_eq!(
        tracker.missing("o2"),
        vec![(2, 2)],
        "o2's 2 is still missing"
    );
    assert_eq!(tracker.missing("o1"), vec![]);
    assert_eq!(of("o3", 2), SequenceCheck::InOrder);
}
