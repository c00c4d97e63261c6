//! Crash tests with real processes: a receiver and a sender are killed with SIGKILL
//! mid-work and restarted on the same SQLite file. Bounded: every wait has a deadline,
//! and children are killed when a test ends (`Child` guard).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{MessageStatus, OutboxStore};
use acl_runtime::webhook::{Scheme, Signer, Verifier};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acl-crash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start_receiver(db: &Path, dir: &Path, round: u32) -> (Kill, u16) {
    let port_file = dir.join(format!("port-{round}"));
    let child = Command::new(env!("CARGO_BIN_EXE_receiver"))
        .args([db.to_str().unwrap(), port_file.to_str().unwrap(), SECRET])
        .spawn()
        .expect("start the receiver");
    let guard = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if let Ok(port) = text.trim().parse() {
                return (guard, port);
            }
        }
        assert!(Instant::now() < deadline, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn body(i: usize) -> Vec<u8> {
    format!(
        "{{\"type\":\"order.paid\",\"order\":{i},\"amount\":{}}}",
        i * 7
    )
    .into_bytes()
}

/// Sends delivery `i`; true when acknowledged (2xx).
async fn deliver(client: &reqwest::Client, port: u16, i: usize) -> bool {
    let id = format!("evt-{i}");
    let body = body(i);
    let headers = Signer::new(Scheme::Standard, SECRET)
        .unwrap()
        .sign(&id, now(), &body)
        .unwrap();
    let mut request = client
        .post(format!("http://127.0.0.1:{port}/hook"))
        .timeout(Duration::from_secs(5))
        .body(body);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    matches!(request.send().await, Ok(r) if r.status().is_success())
}

/// The receiver is killed twice while deliveries arrive and are processed; every
/// acknowledged delivery is processed exactly once after the restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_receiver_processes_every_acknowledged_delivery_once() {
    const N: usize = 240;
    let dir = scratch("receiver");
    let db = dir.join("inbox.sqlite");
    let client = reqwest::Client::new();
    let mut acked = BTreeSet::new();
    let mut round = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < N {
        assert!(
            Instant::now() < deadline,
            "not every delivery was acknowledged in time"
        );
        let (mut guard, port) = start_receiver(&db, &dir, round);
        // Two kills: after about a third and two thirds have been acknowledged. The
        // rounds re-send what was not acknowledged, and a few acknowledged ones (as a
        // sender whose ack got lost would).
        let kill_at = if round < 2 {
            (round as usize + 1) * N / 3
        } else {
            usize::MAX
        };
        let todo: Vec<usize> = (0..N)
            .filter(|i| !acked.contains(i) || i % 17 == 0)
            .collect();
        let mut killed = false;
        for chunk in todo.chunks(8) {
            let results = futures(chunk.iter().map(|&i| {
                let client = client.clone();
                async move { (i, deliver(&client, port, i).await) }
            }))
            .await;
            for (i, ok) in results {
                if ok {
                    acked.insert(i);
                }
            }
            if acked.len() >= kill_at {
                // SIGKILL while the next deliveries are in flight and the worker is
                // mid-transaction.
                let inflight: Vec<_> = (0..N).filter(|i| !acked.contains(i)).take(8).collect();
                let sends = tokio::spawn({
                    let client = client.clone();
                    async move {
                        for i in inflight {
                            let _ = deliver(&client, port, i).await;
                        }
                    }
                });
                tokio::time::sleep(Duration::from_millis(5)).await;
                guard.0.kill().unwrap();
                guard.0.wait().unwrap();
                let _ = sends.await;
                killed = true;
                break;
            }
        }
        round += 1;
        if !killed && acked.len() == N {
            // Let the last receiver process everything, then check the file.
            let store = SqliteStore::open(&db).unwrap();
            let wait = Instant::now() + Duration::from_secs(60);
            loop {
                let distinct: i64 = store
                    .with_connection(|c| {
                        c.query_row("SELECT COUNT(DISTINCT id) FROM processed", [], |r| r.get(0))
                    })
                    .unwrap();
                if distinct as usize == N {
                    break;
                }
                assert!(Instant::now() < wait, "only {distinct} of {N} processed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let rows: Vec<(String, Vec<u8>)> = store
                .with_connection(|c| {
                    let mut s = c.prepare("SELECT id, body FROM processed")?;
                    let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect()
                })
                .unwrap();
            let mut times: BTreeMap<String, usize> = BTreeMap::new();
            for (id, b) in &rows {
                *times.entry(id.clone()).or_default() += 1;
                let i: usize = id.trim_start_matches("evt-").parse().unwrap();
                assert_eq!(b, &body(i), "stored bytes are the bytes received");
            }
            let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
            assert!(twice.is_empty(), "processed more than once: {twice:?}");
            assert_eq!(rows.len(), N);
            drop(guard);
        }
    }
    assert!(round >= 3, "the receiver was killed twice ({round} rounds)");
}

async fn futures<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// What the in-test receiver saw: (id, body, signature verified).
type Seen = Arc<Mutex<Vec<(String, Vec<u8>, bool)>>>;

async fn local_endpoint(seen: Seen) -> u16 {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let verifier = Arc::new(Verifier::new(Scheme::Standard, [SECRET]).unwrap());
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (seen, verifier) = (seen.clone(), verifier.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(8)).await;
                let ok = verifier.verify(&headers, &body).is_ok();
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                seen.lock().unwrap().push((id, body.to_vec(), ok));
                if ok {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// A sender killed mid-delivery delivers every message after its restart: at least
/// once, duplicates with the same id and the same bytes, every signature valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sender_delivers_every_message_after_restart() {
    const N: usize = 150;
    let dir = scratch("sender");
    let db = dir.join("outbox.sqlite");
    let seen: Seen = Arc::default();
    let port = local_endpoint(seen.clone()).await;
    let url = format!("http://127.0.0.1:{port}/in");
    let start = || {
        Kill(
            Command::new(env!("CARGO_BIN_EXE_sender"))
                .args([db.to_str().unwrap(), &url, SECRET, &N.to_string()])
                .spawn()
                .expect("start the sender"),
        )
    };
    let mut first = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < N / 3 {
        assert!(Instant::now() < deadline, "the sender delivered nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let before_restart = seen.lock().unwrap().len();
    assert!(
        before_restart < N,
        "killed before the end ({before_restart} of {N})"
    );
    let mut second = start();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted sender did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "sender exited with {status}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(_, _, ok)| *ok),
        "every signature verifies"
    );
    let mut bodies: BTreeMap<String, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for (id, body, _) in &seen {
        bodies.entry(id.clone()).or_default().insert(body.clone());
    }
    for n in 0..N {
        let id = format!("msg-{n}");
        let b = bodies
            .get(&id)
            .unwrap_or_else(|| panic!("{id} was never delivered"));
        assert_eq!(b.len(), 1, "{id}: every attempt carries the same bytes");
    }
    assert_eq!(bodies.len(), N);
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        OutboxStore::counts(&store)
            .unwrap()
            .get(&MessageStatus::Delivered)
            .copied(),
        Some(N as u64)
    );
    // The history shows the attempts.
    let m = store.message("msg-0").unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Delivered);
    assert!(m.attempts.last().unwrap().status.is_some_and(|s| s == 204));
}
