//! `cargo run -p acl-example-console`: a small service with the operator console at
//! `/acl/` and Prometheus metrics at `/metrics`.
//!
//! - `ACL_CONSOLE_TOKEN` (required; without it the service refuses to start): requests
//!   to `/acl/` need `Authorization: Bearer <token>`.
//! - `ACL_CONSOLE_ADDR` (default `127.0.0.1:8089`): where it listens.
//!
//! At start it drives one external system's breaker open (three failed calls) and puts
//! one delivery in the dead-letter queue, so the console has something to show; replay
//! it from the console and the worker processes it. `/metrics` needs no token; its names
//! keep the `acl_` prefix, with OpenTelemetry attribute names as labels (`acl_system`).

use std::sync::Arc;
use std::time::Duration;

use acl_runtime::console::{bearer, Console};
use acl_runtime::resilience::breaker::{BreakerConfig, CircuitBreaker, Window};
use acl_runtime::resilience::classify::{Idempotency, Outcome};
use acl_runtime::resilience::pipeline::{AttemptError, Operation, System};
use acl_runtime::resilience::retry::{RetryBudget, RetryPolicy};
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{InboxStore, NewDelivery};
use acl_runtime::webhook::InboxWorker;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(token) = std::env::var("ACL_CONSOLE_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        eprintln!("error: set ACL_CONSOLE_TOKEN: the console does not run without credentials");
        std::process::exit(2);
    };
    let addr = std::env::var("ACL_CONSOLE_ADDR").unwrap_or_else(|_| "127.0.0.1:8089".into());
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;

    // One external system, its breaker driven open by three 503s.
    let system = Arc::new(System::new(
        "ledger",
        CircuitBreaker::new(BreakerConfig {
            window: Window::Calls(20),
            min_calls: 20,
            consecutive_failures: Some(3),
            open_for: Duration::from_secs(3600),
            half_open_calls: 1,
            ..BreakerConfig::default()
        })?,
        RetryBudget::new(Duration::from_secs(10), 0.2, 1)?,
    ));
    let charge = Operation::new(
        "createCharge",
        system.clone(),
        Duration::from_secs(2),
        Duration::from_secs(5),
        RetryPolicy::never(),
        Idempotency::of("POST", true),
    )?;
    for _ in 0..3 {
        let _ = charge
            .call(|_| async {
                Err::<(), _>(AttemptError {
                    outcome: Outcome::Status(503),
                    retry_after: None,
                    error: (),
                })
            })
            .await;
    }

    // One dead letter in the inbox, and a worker that processes what is replayed.
    let inbox = Arc::new(SqliteStore::in_memory()?);
    inbox.push(&NewDelivery {
        id: "evt_1NqzqB2eZvKYlo2C".into(),
        source: "payments".into(),
        headers: vec![("webhook-id".into(), b"evt_1NqzqB2eZvKYlo2C".to_vec())],
        body: br#"{"type":"charge.refunded","amount":"twelve"}"#.to_vec(),
        key: None,
        received_at: acl_runtime::store::unix_ms(),
    })?;
    if let Some(d) = inbox.claim(
        acl_runtime::store::unix_ms(),
        Duration::from_secs(30),
        false,
    )? {
        inbox.dead_letter(
            &d.delivery.id,
            "invalid payload at /amount: expected an integer",
            acl_runtime::store::unix_ms(),
        )?;
    }
    let worker = InboxWorker::new(inbox.clone()).idle_wait(Duration::from_millis(200));
    tokio::spawn(async move {
        worker
            .run(|_d| async { Ok(()) }, std::future::pending())
            .await
    });

    let console = Console::new()
        .system(system)
        .inbox(inbox.clone())
        .outbox(inbox)
        .router(bearer(token));
    let app = axum::Router::new().nest_service("/acl", console).route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { metrics.render() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("console on http://{addr}/acl/ (Authorization: Bearer $ACL_CONSOLE_TOKEN), metrics on http://{addr}/metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
