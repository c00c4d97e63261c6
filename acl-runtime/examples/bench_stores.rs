//! The durable stores under load, SQLite and PostgreSQL in one run:
//! acknowledgements per second (a verified, deduplicated, committed delivery) with 1, 8
//! and 64 concurrent deliveries, and deliveries processed per second with 1, 2 and 4
//! workers (claim, 2 ms of handler work, complete).
//!
//! `cargo run --release -p acl-runtime --features webhooks,sqlite,postgres --example bench_stores`
//!
//! PostgreSQL is measured when `ACL_POSTGRES_URL` names a server (`.ci/postgres.sh start`
//! prints one); it says so and skips it otherwise. Each store gets a fresh file or schema.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use acl_runtime::store::postgres::PostgresStore;
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{unix_ms, DedupingInbox, InboxStore, NewDelivery};
use acl_runtime::webhook::{Receiver, Scheme, Signer, Verifier};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"type":"invoice.paid","id":"in_1","amount":1200}"#;

/// Acknowledgements per second with `concurrency` deliveries in flight, `total` in all.
fn acks<S: DedupingInbox + 'static>(
    store: Arc<S>,
    concurrency: usize,
    total: usize,
    tag: &str,
) -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signer = Signer::new(Scheme::Standard, SECRET).unwrap();
    let deliveries: Vec<_> = (0..total)
        .map(|i| signer.sign(&format!("{tag}-{i}"), now, BODY).unwrap())
        .collect();
    let receiver = Arc::new(Receiver::with_inbox_dedupe(
        "bench",
        Verifier::new(Scheme::Standard, [SECRET]).unwrap(),
        store,
    ));
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (receiver, deliveries, next) = (receiver.clone(), deliveries.clone(), next.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(h) = deliveries.get(i) else { break };
                receiver.receive(h, BODY).expect("acknowledged");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    total as f64 / t.elapsed().as_secs_f64()
}

/// Deliveries processed per second by `workers` workers, `total` in all, each taking
/// 2 ms of handler work between its claim and its completion.
fn processed(store: Arc<dyn InboxStore>, workers: usize, total: usize, tag: &str) -> f64 {
    for i in 0..total {
        store
            .push(&NewDelivery {
                id: format!("{tag}-{i}"),
                source: "bench".into(),
                headers: Vec::new(),
                body: BODY.to_vec(),
                key: None,
                received_at: unix_ms(),
            })
            .unwrap();
    }
    let done = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                while done.load(Ordering::Relaxed) < total {
                    match store
                        .claim(unix_ms(), Duration::from_secs(60), false)
                        .unwrap()
                    {
                        Some(d) => {
                            std::thread::sleep(Duration::from_millis(2));
                            store.complete(&d.delivery.id, unix_ms()).unwrap();
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        None => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    total as f64 / t.elapsed().as_secs_f64()
}

fn report<S>(name: &str, make: impl Fn(&str) -> Arc<S>) -> (Vec<f64>, Vec<f64>)
where
    S: DedupingInbox + 'static,
{
    let mut ack = Vec::new();
    for c in [1, 8, 64] {
        let total = if c == 1 { 400 } else { 2_000 };
        let r = acks(make(&format!("acks{c}")), c, total, &format!("a{c}"));
        println!("{name:<11} acks/s with {c:>2} concurrent deliveries: {r:>8.0}");
        ack.push(r);
    }
    let mut work = Vec::new();
    for w in [1, 2, 4] {
        let store: Arc<dyn InboxStore> = make(&format!("work{w}"));
        let r = processed(store, w, 300 * w, &format!("w{w}"));
        println!("{name:<11} processed/s with {w} worker(s):          {r:>8.0}");
        work.push(r);
    }
    println!(
        "{name:<11} scaling: acks 64 vs 1 concurrent {:.2}x; processing 2 vs 1 worker {:.2}x (goal >= 1.7x), 4 vs 1 {:.2}x (goal >= 3x)",
        ack[2] / ack[0],
        work[1] / work[0],
        work[2] / work[0]
    );
    (ack, work)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("acl-bench-stores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = report("sqlite", |name| {
        Arc::new(SqliteStore::open(dir.join(format!("{name}.sqlite"))).unwrap())
    });
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(url) = std::env::var("ACL_POSTGRES_URL") else {
        println!("postgres: skipped (set ACL_POSTGRES_URL; .ci/postgres.sh start prints one)");
        return;
    };
    let pid = std::process::id();
    let postgres = report("postgres", |name| {
        let schema = format!("acl_bench_{name}_{pid}");
        Arc::new(
            PostgresStore::builder(&url)
                .schema(schema)
                .pool_size(16)
                .connect()
                .unwrap(),
        )
    });
    println!(
        "postgres vs sqlite: acks at 64 concurrent {:.2}x, processing with 4 workers {:.2}x",
        postgres.0[2] / sqlite.0[2],
        postgres.1[2] / sqlite.1[2]
    );
    // The schemas are left for inspection; drop them with
    // `DROP SCHEMA acl_bench_… CASCADE`.
}
