//! A webhook receiver process for the PostgreSQL crash tests:
//! `pg_receiver URL SCHEMA PORT_FILE SECRET`: serves `POST /hook` on 127.0.0.1 (port
//! written to PORT_FILE once listening) and acknowledges what is stored in the shared
//! PostgreSQL inbox. It processes nothing: the `pg_worker` processes do.

use std::sync::Arc;

use acl_runtime::webhook::{Receiver, Scheme, Verifier};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, schema, port_file, secret] = &args[..] else {
        eprintln!("usage: pg_receiver URL SCHEMA PORT_FILE SECRET");
        std::process::exit(2);
    };
    let store = Arc::new(acl_webhook_tests::open_postgres(url, schema));
    let verifier = Verifier::new(Scheme::Standard, [secret.as_str()]).expect("secret");
    // Deduplicated and stored in one transaction, shared by every receiver.
    let receiver = Arc::new(Receiver::with_inbox_dedupe("crash-test", verifier, store));
    let app = axum::Router::new().route("/hook", acl_runtime::webhook::axum::post(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::fs::write(format!("{port_file}.tmp"), port.to_string()).expect("port file");
    std::fs::rename(format!("{port_file}.tmp"), port_file).expect("port file");
    axum::serve(listener, app).await.expect("serve");
}
