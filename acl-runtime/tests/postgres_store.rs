//! What only the PostgreSQL store does: migrations from several instances at once, and
//! `LISTEN/NOTIFY` waking an idle worker. Needs `ACL_POSTGRES_URL` (`.ci/postgres.sh
//! start` prints one; `.ci/run` exports it); every test has `postgres` in its name.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acl_runtime::store::postgres::PostgresStore;
use acl_runtime::store::{InboxStore, NewDelivery};

fn url() -> String {
    std::env::var("ACL_POSTGRES_URL")
        .expect("needs PostgreSQL: set ACL_POSTGRES_URL (.ci/postgres.sh start prints one)")
}

fn fresh(schema: &str) -> String {
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
    schema.to_string()
}

#[test]
#[ignore = "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"]
fn postgres_instances_starting_at_once_migrate_once() {
    let schema = fresh("acl_pg_migrate");
    let stores: Vec<_> = (0..6)
        .map(|_| {
            let schema = schema.clone();
            std::thread::spawn(move || {
                PostgresStore::builder(&url())
                    .schema(schema)
                    .pool_size(1)
                    .connect()
            })
        })
        .collect();
    let stores: Vec<PostgresStore> = stores
        .into_iter()
        .map(|t| t.join().unwrap().expect("every instance starts"))
        .collect();
    for s in &stores {
        assert_eq!(s.schema_version().unwrap(), 1);
    }
    let applied: i64 = stores[0]
        .with_client(|c| {
            c.query_one("SELECT COUNT(*) FROM acl_schema_version", &[])
                .map(|r| r.get(0))
        })
        .unwrap();
    assert_eq!(applied, 1, "each migration recorded once");
}

#[test]
#[ignore = "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"]
fn postgres_notify_wakes_an_idle_worker_before_its_slow_poll() {
    let schema = fresh("acl_pg_notify");
    let store = Arc::new(
        PostgresStore::builder(&url())
            .schema(schema)
            .connect()
            .unwrap(),
    );
    assert!(store.notifies());
    // Let the listener connect (a wait that times out starts it).
    store.wait_for_work(Duration::from_millis(300));
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            store.wait_for_work(Duration::from_secs(60));
            started.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    store
        .push(&NewDelivery {
            id: "wake".into(),
            source: "test".into(),
            headers: Vec::new(),
            body: b"{}".to_vec(),
            key: None,
            received_at: 1,
        })
        .unwrap();
    let waited = waiter.join().unwrap();
    assert!(
        waited < Duration::from_secs(30),
        "woken by the push, not by the 60 s poll ({waited:?})"
    );
    assert!(store
        .claim(2, Duration::from_secs(5), false)
        .unwrap()
        .is_some());
}

#[test]
#[ignore = "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"]
fn postgres_sweeps_expired_ids_and_old_processed_deliveries() {
    let schema = fresh("acl_pg_sweep");
    let store = PostgresStore::builder(&url())
        .schema(schema)
        .retain_processed(Duration::from_secs(60))
        .connect()
        .unwrap();
    let keep = Duration::from_secs(60);
    let delivery = |id: &str, at: i64| NewDelivery {
        id: id.into(),
        source: "test".into(),
        headers: Vec::new(),
        body: b"{}".to_vec(),
        key: None,
        received_at: at,
    };
    store
        .push_unique(&delivery("old", 0), &[1; 32], keep)
        .unwrap()
        .unwrap();
    store.complete("old", 1).unwrap();
    store.push(&delivery("dead", 0)).unwrap();
    let d = store
        .claim(2, Duration::from_secs(5), false)
        .unwrap()
        .unwrap();
    assert_eq!(d.delivery.id, "dead");
    store.dead_letter("dead", "bad", 3).unwrap();
    // An hour later, enough new deliveries for a sweep (every 256 per process).
    for i in 0..300 {
        store
            .push_unique(&delivery(&format!("n{i}"), 3_600_000), &[2; 32], keep)
            .unwrap()
            .unwrap();
    }
    let count = |sql: &str| -> i64 {
        store
            .with_client(|c| c.query_one(sql, &[]).map(|r| r.get(0)))
            .unwrap()
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM acl_idempotency WHERE id='old'"),
        0,
        "the expired id is gone"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM acl_inbox WHERE id='old'"),
        0,
        "the old processed delivery is gone"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM acl_inbox WHERE id='dead'"),
        1,
        "dead letters stay"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM acl_inbox WHERE id LIKE 'n%'"),
        300,
        "the new ones stay"
    );
}
