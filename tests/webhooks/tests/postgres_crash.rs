//! Crash tests on one shared PostgreSQL database: two receiver processes and two worker
//! processes, one of each SIGKILLed while deliveries arrive and are processed, then
//! restarted; and a sender killed mid-delivery. Every acknowledged delivery is processed
//! exactly once with its exact bytes; every message is delivered.
//!
//! They need a server: `ACL_POSTGRES_URL` (`.ci/postgres.sh start` prints one; `.ci/run`
//! exports it); each test works in its own schema. Bounded: every wait has a deadline,
//! and children are killed when a test ends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Runs `f` on a thread of its own: the blocking PostgreSQL client starts a runtime of
/// its own, which tokio refuses on a thread driving async tasks.
fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

fn url() -> String {
    std::env::var("ACL_POSTGRES_URL")
        .expect("needs PostgreSQL: set ACL_POSTGRES_URL (.ci/postgres.sh start prints one)")
}

/// A fresh schema with the store's tables and the `processed` table.
fn fresh_schema(name: &str) -> String {
    let schema = format!("acl_crash_{name}_{}", std::process::id());
    blocking(|| {
        let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .unwrap();
    });
    drop(acl_webhook_tests::open_postgres(&url(), &schema));
    schema
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acl-pgcrash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start_receiver(schema: &str, dir: &Path, tag: &str) -> (Kill, u16) {
    let port_file = dir.join(format!("port-{tag}"));
    let _ = std::fs::remove_file(&port_file);
    let child = Command::new(env!("CARGO_BIN_EXE_pg_receiver"))
        .args([&url(), schema, port_file.to_str().unwrap(), SECRET])
        .spawn()
        .expect("start a receiver");
    let guard = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if let Ok(port) = text.trim().parse() {
                return (guard, port);
            }
        }
        assert!(Instant::now() < deadline, "a receiver did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_worker(schema: &str) -> Kill {
    Kill(
        Command::new(env!("CARGO_BIN_EXE_pg_worker"))
            .args([&url(), schema])
            .spawn()
            .expect("start a worker"),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn body(i: usize) -> Vec<u8> {
    format!(
        "{{\"type\":\"order.paid\",\"order\":{i},\"amount\":{},\"raw\":\"\\u00ff\"}}",
        i * 7
    )
    .into_bytes()
}

/// Sends delivery `i` to the receiver on `port`; true when acknowledged (2xx).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"]
async fn postgres_two_receivers_and_two_workers_lose_nothing_under_sigkill() {
    const N: usize = 300;
    let schema = fresh_schema("inbound");
    let dir = scratch("inbound");
    let client = reqwest::Client::new();
    let (mut receivers, mut workers) = (Vec::new(), Vec::new());
    for tag in ["a0", "b0"] {
        receivers.push(start_receiver(&schema, &dir, tag));
        workers.push(start_worker(&schema));
    }
    let mut acked = BTreeSet::new();
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    // Rounds: each sends what is not acknowledged yet (and every 17th again, as a vendor
    // whose acknowledgement got lost would), alternating between the two receivers.
    while acked.len() < N {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} acknowledged",
            acked.len()
        );
        let todo: Vec<usize> = (0..N)
            .filter(|i| !acked.contains(i) || i % 17 == 0)
            .collect();
        for chunk in todo.chunks(10) {
            let ports: Vec<u16> = receivers.iter().map(|(_, p)| *p).collect();
            let sends: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let (client, port) = (client.clone(), ports[i % ports.len()]);
                    tokio::spawn(async move { (i, deliver(&client, port, i).await) })
                })
                .collect();
            // One receiver and one worker die while these are in flight: after a third,
            // then after two thirds of the deliveries are acknowledged.
            if kills < 2 && acked.len() >= (kills + 1) * N / 3 {
                tokio::time::sleep(Duration::from_millis(3)).await;
                let which = kills;
                receivers[which].0 .0.kill().unwrap();
                workers[which].0.kill().unwrap();
                let _ = receivers[which].0 .0.wait();
                let _ = workers[which].0.wait();
                kills += 1;
                receivers[which] = start_receiver(&schema, &dir, &format!("r{kills}"));
                workers[which] = start_worker(&schema);
            }
            for s in sends {
                let (i, ok) = s.await.unwrap();
                if ok {
                    acked.insert(i);
                }
            }
        }
    }
    assert_eq!(kills, 2, "a receiver and a worker were killed twice");
    // Everything acknowledged is processed, once, with its bytes.
    let mut c = blocking(|| postgres::Client::connect(&url(), postgres::NoTls).unwrap());
    let wait = Instant::now() + Duration::from_secs(60);
    loop {
        let distinct: i64 = blocking(|| {
            c.query_one(
                &format!("SELECT COUNT(DISTINCT id) FROM {schema}.processed"),
                &[],
            )
            .unwrap()
            .get(0)
        });
        if distinct as usize == N {
            break;
        }
        assert!(Instant::now() < wait, "only {distinct} of {N} processed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = blocking(|| {
        c.query(
            &format!("SELECT id, body, worker FROM {schema}.processed"),
            &[],
        )
        .unwrap()
    });
    let mut times: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_worker: BTreeSet<i64> = BTreeSet::new();
    for r in &rows {
        let (id, b, worker): (String, Vec<u8>, i64) = (r.get(0), r.get(1), r.get(2));
        *times.entry(id.clone()).or_default() += 1;
        let i: usize = id.trim_start_matches("evt-").parse().unwrap();
        assert_eq!(b, body(i), "stored bytes are the bytes received");
        by_worker.insert(worker);
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "processed more than once: {twice:?}");
    assert_eq!(rows.len(), N);
    assert!(
        by_worker.len() >= 2,
        "the work was shared by the workers: {by_worker:?}"
    );
    drop((receivers, workers));
    blocking(move || {
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap()
    });
}

/// What the in-test endpoint saw: (id, body, signature verified).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"]
async fn postgres_killed_sender_delivers_every_message_after_restart() {
    const N: usize = 150;
    let schema = fresh_schema("outbound");
    let db = format!("{}#{schema}", url());
    let seen: Seen = Arc::default();
    let port = local_endpoint(seen.clone()).await;
    let endpoint = format!("http://127.0.0.1:{port}/in");
    let start = || {
        Kill(
            Command::new(env!("CARGO_BIN_EXE_sender"))
                .args([db.as_str(), &endpoint, SECRET, &N.to_string()])
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
    assert!(seen.lock().unwrap().len() < N, "killed before the end");
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
    let store = acl_webhook_tests::open_postgres(&url(), &schema);
    assert_eq!(
        OutboxStore::counts(&store)
            .unwrap()
            .get(&MessageStatus::Delivered)
            .copied(),
        Some(N as u64)
    );
    drop(store);
    blocking(|| {
        let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap()
    });
}

/// A TCP forwarder on loopback to the PostgreSQL server, that can be cut: the database
/// "goes down" for the store (open connections die, new ones are refused) and comes back.
struct Cable {
    port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cable {
    async fn to(target: String) -> Cable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, conns) = (up.clone(), conns.clone());
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(std::sync::atomic::Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    conns.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }));
                }
            }
        });
        Cable {
            port,
            up,
            conns,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn mend(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The database goes away under a receiver: deliveries get 503 with `Retry-After` (the
/// vendor retries), never 2xx without being stored; when it is back, the retry is
/// stored and acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"]
async fn postgres_outage_answers_503_with_retry_after_and_never_acknowledges_unstored() {
    use acl_runtime::store::InboxStore;
    let schema = fresh_schema("outage");
    // postgres://user@HOST:PORT/db → the same through the cable.
    let real = url();
    let (head, rest) = real.split_once('@').expect("a URL with user@host");
    let (authority, db) = rest.split_once('/').expect("a URL with a database");
    let cable = Cable::to(authority.to_string()).await;
    let through = format!("{head}@127.0.0.1:{}/{db}", cable.port);
    let store = Arc::new(
        acl_runtime::store::postgres::PostgresStore::builder(&through)
            .schema(&schema)
            .pool_size(2)
            .checkout_timeout(Duration::from_millis(500))
            .connect()
            .unwrap(),
    );
    let verifier = Verifier::new(Scheme::Standard, [SECRET]).unwrap();
    let receiver = Arc::new(acl_runtime::webhook::Receiver::with_inbox_dedupe(
        "outage",
        verifier,
        store.clone(),
    ));
    let app = axum::Router::new().route("/hook", acl_runtime::webhook::axum::post(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let send = |i: usize| {
        let client = client.clone();
        async move {
            let id = format!("evt-{i}");
            let body = body(i);
            let headers = Signer::new(Scheme::Standard, SECRET)
                .unwrap()
                .sign(&id, now(), &body)
                .unwrap();
            let mut request = client
                .post(format!("http://127.0.0.1:{port}/hook"))
                .timeout(Duration::from_secs(10))
                .body(body);
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            let r = request.send().await.unwrap();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (r.status().as_u16(), retry_after)
        }
    };
    assert_eq!(send(1).await.0, 200);
    cable.cut();
    let started = Instant::now();
    let (status, retry_after) = send(2).await;
    assert_eq!(status, 503, "the database is down");
    assert!(retry_after.is_some(), "the vendor is told when to retry");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered within the checkout bound"
    );
    cable.mend();
    // The vendor's retry, once the database is back.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = send(2).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "the store did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counts = {
        let store = store.clone();
        blocking(move || InboxStore::counts(&*store).unwrap())
    };
    assert_eq!(counts.pending, 2, "both stored once: {counts:?}");
    drop(store);
    drop(cable);
    blocking(|| {
        let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap()
    });
}
