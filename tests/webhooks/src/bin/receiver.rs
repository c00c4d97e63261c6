//! A webhook receiver process for the crash tests:
//! `receiver DB PORT_FILE SECRET`: serves `POST /hook` on 127.0.0.1 (port written to
//! PORT_FILE once listening), acknowledges what is stored in the SQLite inbox DB, and
//! processes from the inbox exactly once: each processing writes a row to `processed`
//! in the same transaction that marks the delivery done.

use std::sync::Arc;
use std::time::Duration;

use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::unix_ms;
use acl_runtime::webhook::{Receiver, Scheme, Verifier};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, port_file, secret] = &args[..] else {
        eprintln!("usage: receiver DB PORT_FILE SECRET");
        std::process::exit(2);
    };
    let store = Arc::new(SqliteStore::open(db).expect("open the store"));
    acl_webhook_tests::create_effects(&store);
    let verifier = Verifier::new(Scheme::Standard, [secret.as_str()]).expect("secret");
    // Deduplicated and stored in one transaction (one fsync per acknowledgement).
    let receiver = Arc::new(Receiver::with_inbox_dedupe(
        "crash-test",
        verifier,
        store.clone(),
    ));
    let app = axum::Router::new().route("/hook", acl_runtime::webhook::axum::post(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::fs::write(format!("{port_file}.tmp"), port.to_string()).expect("port file");
    std::fs::rename(format!("{port_file}.tmp"), port_file).expect("port file");

    // The worker: slow enough (a few ms per delivery) that a kill lands mid-processing.
    let worker_store = store.clone();
    tokio::task::spawn_blocking(move || loop {
        let r = worker_store.process_next_in_transaction(unix_ms(), false, |tx, d| {
            std::thread::sleep(Duration::from_millis(3));
            tx.execute(
                "INSERT INTO processed (id, body) VALUES (?1, ?2)",
                (&d.delivery.id, &d.delivery.body),
            )
            .map(|_| ())
        });
        match r {
            Ok(Some(_)) => {}
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                eprintln!("inbox: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    axum::serve(listener, app).await.expect("serve");
}
