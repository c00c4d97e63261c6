//! One suite for the store traits, run against every store that implements them: memory,
//! SQLite, Redis (idempotency) and PostgreSQL. A new store is checked by adding one line
//! to the `stores!` list at the bottom.
//!
//! The PostgreSQL cases need a server: `ACL_POSTGRES_URL` (`.ci/postgres.sh start` prints
//! one; `.ci/run` exports it), each case in its own schema; they are ignored in the plain
//! test command and named `postgres::…`, so `cargo test -p acl-runtime --all-features
//! --test store_conformance -- --include-ignored postgres` runs exactly them. Likewise
//! Redis with `ACL_REDIS_URL`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use acl_runtime::store::{
    AttemptRecord, Claim, CursorState, CursorStore, Endpoint, IdempotencyStore, InboxCounts,
    InboxStore, MessageStatus, NewDelivery, OutboundMessage, OutboxStore,
};

fn delivery(id: &str, key: Option<&str>, at: i64) -> NewDelivery {
    NewDelivery {
        id: id.into(),
        source: "test".into(),
        headers: vec![
            ("webhook-id".into(), id.as_bytes().to_vec()),
            ("x-raw".into(), vec![0xff, 0, b'\r']),
        ],
        body: vec![0xfe, b'{', 0, 0x80],
        key: key.map(Into::into),
        received_at: at,
    }
}

const LEASE: Duration = Duration::from_secs(30);

pub fn inbox_claims_leases_retries_and_dead_letters(s: &dyn InboxStore) {
    s.push(&delivery("a", None, 1)).unwrap();
    s.push(&delivery("a", None, 2)).unwrap(); // once
    s.push(&delivery("b", None, 3)).unwrap();
    let a = s.claim(10, LEASE, false).unwrap().unwrap();
    assert_eq!(
        a.delivery,
        delivery("a", None, 1),
        "bytes and headers kept exactly"
    );
    assert_eq!(a.attempt, 1);
    let b = s.claim(10, LEASE, false).unwrap().unwrap();
    assert_eq!(b.delivery.id, "b");
    assert!(s.claim(10, LEASE, false).unwrap().is_none());
    // a's worker died: its lease lapses and it is claimed again, attempt 2.
    let again = s.claim(30_010, LEASE, false).unwrap().unwrap();
    assert_eq!((again.delivery.id.as_str(), again.attempt), ("a", 2));
    s.retry_at("a", 40_000, "503 from the ledger").unwrap();
    s.complete("b", 30_011).unwrap();
    assert!(s.claim(39_999, LEASE, false).unwrap().is_none());
    assert_eq!(s.claim(40_000, LEASE, false).unwrap().unwrap().attempt, 3);
    s.dead_letter("a", "invalid payload at /amount", 40_001)
        .unwrap();
    let dead = s.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].error.as_str(), dead[0].attempts, dead[0].at),
        ("invalid payload at /amount", 3, 40_001)
    );
    assert_eq!(dead[0].delivery, delivery("a", None, 1));
    assert_eq!(
        s.counts().unwrap(),
        InboxCounts {
            pending: 0,
            processing: 0,
            done: 1,
            dead: 1
        }
    );
    assert!(s.replay("a", 50_000).unwrap());
    assert!(!s.replay("a", 50_000).unwrap());
    assert_eq!(s.claim(50_000, LEASE, false).unwrap().unwrap().attempt, 1);
}

pub fn in_order_claims_wait_for_the_older_delivery_of_the_same_key(s: &dyn InboxStore) {
    s.push(&delivery("k1-1", Some("order-1"), 1)).unwrap();
    s.push(&delivery("k1-2", Some("order-1"), 2)).unwrap();
    s.push(&delivery("k2-1", Some("order-2"), 3)).unwrap();
    assert_eq!(
        s.claim(10, LEASE, true).unwrap().unwrap().delivery.id,
        "k1-1"
    );
    // k1-2 waits for k1-1; another key goes ahead in parallel.
    assert_eq!(
        s.claim(10, LEASE, true).unwrap().unwrap().delivery.id,
        "k2-1"
    );
    assert!(s.claim(10, LEASE, true).unwrap().is_none());
    s.complete("k1-1", 11).unwrap();
    assert_eq!(
        s.claim(12, LEASE, true).unwrap().unwrap().delivery.id,
        "k1-2"
    );
}

/// The operator's view of the DLQ: pages in order, a discard removes one for good.
pub fn dead_letters_page_and_discard(s: &dyn InboxStore) {
    for i in 0..7 {
        let id = format!("d{i}");
        s.push(&delivery(&id, None, i)).unwrap();
        let d = s.claim(100, LEASE, false).unwrap().unwrap();
        s.dead_letter(&d.delivery.id, "bad", 101).unwrap();
    }
    let ids = |page: Vec<acl_runtime::store::DeadLetter>| {
        page.into_iter().map(|d| d.delivery.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(s.dead_letters_page(0, 3).unwrap()), ["d0", "d1", "d2"]);
    assert_eq!(ids(s.dead_letters_page(3, 3).unwrap()), ["d3", "d4", "d5"]);
    assert_eq!(ids(s.dead_letters_page(6, 3).unwrap()), ["d6"]);
    assert!(s.discard("d3").unwrap());
    assert!(!s.discard("d3").unwrap(), "gone");
    assert_eq!(ids(s.dead_letters_page(3, 3).unwrap()), ["d4", "d5", "d6"]);
    // Only dead letters are discarded.
    s.push(&delivery("alive", None, 1)).unwrap();
    assert!(!s.discard("alive").unwrap());
    assert_eq!(s.counts().unwrap().dead, 6);
}

/// Eight threads claim 200 deliveries at once: each is handed out exactly once.
pub fn concurrent_claims_never_hand_one_delivery_to_two_workers(s: Arc<dyn InboxStore>) {
    for i in 0..200 {
        s.push(&delivery(&format!("c{i}"), None, 1)).unwrap();
    }
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(d) = s.claim(5, LEASE, false).unwrap() {
                    s.complete(&d.delivery.id, 6).unwrap();
                    got.push(d.delivery.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 200, "every delivery claimed once");
    assert_eq!(unique.len(), 200, "none twice");
    assert_eq!(s.counts().unwrap().done, 200);
}

pub fn push_unique_deduplicates_and_stores_in_one_step(s: &dyn InboxStore) {
    let keep = Duration::from_secs(60);
    let d = delivery("u", None, 1_000);
    let push = |d: &NewDelivery, digest: u8| {
        s.push_unique(d, &[digest; 32], keep)
            .expect("a deduplicating inbox")
            .unwrap()
    };
    assert_eq!(push(&d, 1), Claim::New);
    assert_eq!(push(&d, 1), Claim::Duplicate);
    assert_eq!(push(&d, 2), Claim::Conflict);
    assert_eq!(s.counts().unwrap().pending, 1);
    // Forgotten after `keep`: the inbox row (unique id) still refuses a second copy.
    let later = NewDelivery {
        received_at: 70_000,
        ..d
    };
    assert_eq!(push(&later, 1), Claim::New);
    assert_eq!(s.counts().unwrap().pending, 1);
}

/// 32 threads acknowledge 400 deliveries, each one twice, at once (SQLite commits them
/// in groups): each id is new exactly once, every copy is a duplicate, all are stored.
pub fn concurrent_push_unique_stores_each_once(s: Arc<dyn InboxStore>) {
    let keep = Duration::from_secs(600);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let (s, next) = (s.clone(), next.clone());
            std::thread::spawn(move || {
                let mut claims = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= 800 {
                        break claims;
                    }
                    let d = delivery(&format!("g{}", i % 400), None, 1_000);
                    claims.push(s.push_unique(&d, &[3; 32], keep).unwrap().unwrap());
                }
            })
        })
        .collect();
    let claims: Vec<Claim> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(claims.iter().filter(|c| **c == Claim::New).count(), 400);
    assert_eq!(
        claims.iter().filter(|c| **c == Claim::Duplicate).count(),
        400
    );
    assert_eq!(s.counts().unwrap().pending, 400);
}

/// `uses_now`: whether the store judges expiry by the `now` it is given (Redis uses its
/// own clock).
pub fn idempotency_walks_the_two_phases(s: &dyn IdempotencyStore, uses_now: bool) {
    let lease = Duration::from_secs(10);
    let (a, b) = ([1u8; 32], [2u8; 32]);
    assert_eq!(s.begin("x", &a, lease, 1).unwrap(), Claim::New);
    assert_eq!(s.begin("x", &a, lease, 2).unwrap(), Claim::InProgress);
    assert_eq!(s.begin("x", &b, lease, 2).unwrap(), Claim::Conflict);
    s.commit("x", &a, Duration::from_secs(60), 3).unwrap();
    assert_eq!(s.begin("x", &a, lease, 4).unwrap(), Claim::Duplicate);
    // An aborted claim frees the id at once.
    assert_eq!(s.begin("y", &a, lease, 4).unwrap(), Claim::New);
    s.abort("y").unwrap();
    assert_eq!(s.begin("y", &a, lease, 5).unwrap(), Claim::New);
    // Aborting a committed id changes nothing.
    s.abort("x").unwrap();
    assert_eq!(s.begin("x", &a, lease, 6).unwrap(), Claim::Duplicate);
    if uses_now {
        // After `keep`, the id is new again.
        assert_eq!(s.begin("x", &a, lease, 60_004).unwrap(), Claim::New);
        // A claim whose holder died is free after its lease.
        assert_eq!(s.begin("x", &a, lease, 70_005).unwrap(), Claim::New);
    }
}

/// Sixteen threads race to begin the same id: one wins.
pub fn idempotency_has_one_winner(s: Arc<dyn IdempotencyStore>) {
    let winners: usize = (0..16)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.begin("race", &[7; 32], Duration::from_secs(30), 1)
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| usize::from(t.join().unwrap() == Claim::New))
        .sum();
    assert_eq!(winners, 1);
}

pub fn outbox_records_attempts_and_replays(s: &dyn OutboxStore) {
    s.upsert_endpoint(&Endpoint {
        id: "e".into(),
        url: "http://127.0.0.1:1/".into(),
        secret: "whsec_AAAA".into(),
        disabled: false,
        failing_since: None,
    })
    .unwrap();
    let m = OutboundMessage {
        id: "m1".into(),
        endpoint: "e".into(),
        event_type: "t".into(),
        version: "v1".into(),
        payload: b"{\"a\":1}\xff".to_vec(),
        created_at: 1,
    };
    s.enqueue(&m, 1).unwrap();
    s.enqueue(&m, 1).unwrap();
    let lease = Duration::from_secs(10);
    assert_eq!(s.claim(1, lease, 10).unwrap(), vec![(m.clone(), 1)]);
    assert!(s.claim(2, lease, 10).unwrap().is_empty());
    let attempt = |n, at, status| AttemptRecord {
        n,
        at,
        status: Some(status),
        error: None,
        duration_ms: 4,
    };
    s.record(
        "m1",
        &attempt(1, 1, 503),
        MessageStatus::Pending,
        Some(5_001),
    )
    .unwrap();
    assert!(s.claim(5_000, lease, 10).unwrap().is_empty());
    assert_eq!(s.claim(5_001, lease, 10).unwrap()[0].1, 2);
    s.record(
        "m1",
        &attempt(2, 5_001, 200),
        MessageStatus::Delivered,
        None,
    )
    .unwrap();
    let st = s.message("m1").unwrap().unwrap();
    assert_eq!(st.status, MessageStatus::Delivered);
    assert_eq!(st.message, m);
    assert_eq!(
        st.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![Some(503), Some(200)]
    );
    assert_eq!(s.counts().unwrap().get(&MessageStatus::Delivered), Some(&1));
    assert!(s.replay("m1", 6_000).unwrap());
    assert_eq!(
        s.message("m1").unwrap().unwrap().status,
        MessageStatus::Pending
    );
    // A lapsed lease gives the message back.
    assert_eq!(s.claim(6_000, lease, 10).unwrap().len(), 1);
    assert!(s.claim(6_001, lease, 10).unwrap().is_empty());
    assert_eq!(s.claim(16_001, lease, 10).unwrap().len(), 1);
    // A disabled endpoint's messages are not claimed.
    s.set_endpoint_disabled("e", true).unwrap();
    assert!(s.claim(40_000, lease, 10).unwrap().is_empty());
    assert!(s.endpoint("e").unwrap().unwrap().disabled);
    let failing = |ok, now| {
        s.endpoint_result("e", ok, now)
            .unwrap()
            .unwrap()
            .failing_since
    };
    assert_eq!(failing(false, 7_000), Some(7_000));
    assert_eq!(failing(false, 8_000), Some(7_000));
    assert_eq!(failing(true, 9_000), None);
    assert_eq!(s.endpoints().unwrap().len(), 1);
    assert!(s.endpoints().unwrap()[0].disabled);
    let m2 = OutboundMessage {
        id: "m2".into(),
        ..m.clone()
    };
    s.enqueue(&m2, 2).unwrap();
    let page = s.messages_page(0, 10).unwrap();
    assert_eq!(
        page.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m2", "m1"],
        "newest first"
    );
    assert_eq!(
        (page[1].status, page[1].attempts),
        (MessageStatus::Sending, 2)
    );
    assert_eq!(s.messages_page(1, 10).unwrap().len(), 1);
    assert_eq!(s.fail_endpoint_messages("e").unwrap(), 2);
    assert_eq!(
        s.message("m1").unwrap().unwrap().status,
        MessageStatus::Failed
    );
    assert!(s.endpoint("nope").unwrap().is_none());
    assert!(s.message("nope").unwrap().is_none());
}

pub fn cursors_round_trip(s: &dyn CursorStore) {
    assert_eq!(s.load("p").unwrap(), None);
    let st = CursorState {
        cursor: Some("c2".into()),
        etag: Some("\"e\"".into()),
        last_modified: None,
        covered_until: Some(9),
    };
    s.save("p", &st).unwrap();
    assert_eq!(s.load("p").unwrap(), Some(st.clone()));
    let next = CursorState {
        cursor: None,
        covered_until: Some(10),
        ..st
    };
    s.save("p", &next).unwrap();
    assert_eq!(s.load("p").unwrap(), Some(next));
}

mod make {
    use acl_runtime::store::postgres::PostgresStore;
    use acl_runtime::store::sqlite::SqliteStore;

    pub fn sqlite(name: &str) -> SqliteStore {
        let path =
            std::env::temp_dir().join(format!("acl-conformance-{}-{name}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        SqliteStore::open(&path).unwrap()
    }

    /// A store in a fresh schema of the server `ACL_POSTGRES_URL` names.
    pub fn postgres(name: &str) -> PostgresStore {
        let url = std::env::var("ACL_POSTGRES_URL")
            .expect("needs PostgreSQL: set ACL_POSTGRES_URL (.ci/postgres.sh start prints one)");
        let schema = format!("acl_conf_{name}");
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .unwrap();
        PostgresStore::builder(&url)
            .schema(schema)
            .pool_size(10)
            .connect()
            .unwrap()
    }

    pub fn redis(name: &str) -> acl_runtime::store::redis::RedisIdempotency {
        let url =
            std::env::var("ACL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("acl-conf-{}-{name}-{}:", std::process::id(), fastrand());
        acl_runtime::store::redis::RedisIdempotency::connect(&url, &prefix).unwrap()
    }

    fn fastrand() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// The inbox, outbox and cursor cases for a store that has them all.
macro_rules! full_store {
    ($module:ident, $make:path $(, $ignore:literal)?) => {
        mod $module {
            use super::*;
            #[test]
            $(#[ignore = $ignore])?
            fn inbox_claims_leases_retries_and_dead_letters() {
                super::inbox_claims_leases_retries_and_dead_letters(&$make("inbox"));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn in_order_claims() {
                super::in_order_claims_wait_for_the_older_delivery_of_the_same_key(&$make("order"));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn concurrent_claims() {
                super::concurrent_claims_never_hand_one_delivery_to_two_workers(Arc::new($make("concurrent")));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn push_unique() {
                super::push_unique_deduplicates_and_stores_in_one_step(&$make("unique"));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn dead_letters_page_and_discard() {
                super::dead_letters_page_and_discard(&$make("dlq"));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn concurrent_push_unique() {
                super::concurrent_push_unique_stores_each_once(Arc::new($make("group")));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn idempotency() {
                super::idempotency_walks_the_two_phases(&$make("idempotency"), true);
            }
            #[test]
            $(#[ignore = $ignore])?
            fn idempotency_race() {
                super::idempotency_has_one_winner(Arc::new($make("race")));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn outbox() {
                super::outbox_records_attempts_and_replays(&$make("outbox"));
            }
            #[test]
            $(#[ignore = $ignore])?
            fn cursors() {
                super::cursors_round_trip(&$make("cursors"));
            }
        }
    };
}

full_store!(sqlite, make::sqlite);
full_store!(
    postgres,
    make::postgres,
    "needs PostgreSQL: set ACL_POSTGRES_URL (.ci/run starts one)"
);

mod memory {
    use super::*;
    #[test]
    fn idempotency() {
        super::idempotency_walks_the_two_phases(
            &acl_runtime::store::MemoryIdempotency::new(),
            true,
        );
    }
    #[test]
    fn idempotency_race() {
        super::idempotency_has_one_winner(Arc::new(acl_runtime::store::MemoryIdempotency::new()));
    }
}

mod redis {
    use super::*;
    #[test]
    #[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
    fn idempotency() {
        super::idempotency_walks_the_two_phases(&make::redis("idempotency"), false);
    }
    #[test]
    #[ignore = "needs redis-server: set ACL_REDIS_URL (.ci/run starts one)"]
    fn idempotency_race() {
        super::idempotency_has_one_winner(Arc::new(make::redis("race")));
    }
}
