//! A webhook sender process for the crash tests:
//! `sender DB URL SECRET COUNT`: publishes COUNT messages (`msg-0` …) to the endpoint at
//! URL (publishing an id again is a no-op, so a restart publishes nothing new), then
//! delivers from the SQLite outbox until every message is delivered, and exits 0.
//! With DB `postgres://…#SCHEMA`, the outbox is in that PostgreSQL schema instead.

use std::sync::Arc;
use std::time::Duration;

use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{MessageStatus, OutboxStore};
use acl_runtime::webhook::{Destinations, OutboundEvent, Sender};

#[derive(serde::Serialize)]
struct Tick {
    n: u32,
    note: &'static str,
}

impl OutboundEvent for Tick {
    const TYPE: &'static str = "tick.created";
    const VERSION: &'static str = "2026-11-01";
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, url, secret, count] = &args[..] else {
        eprintln!("usage: sender DB URL SECRET COUNT");
        std::process::exit(2);
    };
    let count: u32 = count.parse().expect("COUNT");
    let store: Arc<dyn OutboxStore> = match db.split_once('#') {
        Some((url, schema)) if url.starts_with("postgres://") => {
            Arc::new(acl_webhook_tests::open_postgres(url, schema))
        }
        _ => Arc::new(SqliteStore::open(db).expect("open the store")),
    };
    // A short schedule and lease so a killed sender's claims come back quickly.
    let sender = Sender::http(store.clone(), Destinations::Any)
        .unwrap()
        .schedule(vec![
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400),
            Duration::from_millis(800),
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
        ])
        .timeout(Duration::from_millis(500))
        .idle_wait(Duration::from_millis(20));
    sender.endpoint("local", url, secret).expect("endpoint");
    for n in 0..count {
        sender
            .publish(
                "local",
                &format!("msg-{n}"),
                &Tick {
                    n,
                    note: "at least once",
                },
            )
            .expect("publish");
    }
    loop {
        let pass = sender.deliver_due().await.expect("outbox");
        let counts = OutboxStore::counts(&*store).expect("counts");
        let delivered = counts.get(&MessageStatus::Delivered).copied().unwrap_or(0);
        if delivered == u64::from(count) {
            break;
        }
        if counts.get(&MessageStatus::Failed).copied().unwrap_or(0) > 0 {
            eprintln!("a message failed: {counts:?}");
            std::process::exit(1);
        }
        if pass.delivered + pass.rescheduled + pass.failed == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
