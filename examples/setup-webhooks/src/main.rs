acl_runtime::include_contract!("petstore"); // types, client, and `events` from `webhooks:`

use std::sync::Arc;

use acl_runtime::boundary::events::HandlerError;
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::Delivery;
use acl_runtime::webhook::{InboxWorker, Receiver, Scheme, Verifier};
use petstore::events::{dispatch, EventHandler};

struct Adoptions;

impl EventHandler for Adoptions {
    // One method per event the contract lists; the others accept and ignore theirs.
    async fn on_pet_adopted(&self, e: petstore::types::AdoptionEvent) -> Result<(), HandlerError> {
        println!("pet {} adopted at {}", e.pet_id, e.adopted_at);
        Ok(()) // Err(HandlerError::Retry(..)) retries later; Invalid/Permanent dead-letter
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Acknowledged means on disk: WAL, synchronous=FULL.
    let inbox = Arc::new(SqliteStore::open("inbox.sqlite")?);
    let secret = std::env::var("PETSTORE_WEBHOOK_SECRET")?; // whsec_…
    let verifier = Verifier::new(Scheme::Standard, [secret.as_str()])?;
    let receiver = Arc::new(Receiver::with_inbox_dedupe(
        "petstore",
        verifier,
        inbox.clone(),
    ));
    let app = axum::Router::new().route(
        "/webhooks/petstore",
        acl_runtime::webhook::axum::post(receiver),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The worker: every stored delivery, decoded and checked, to its handler method.
    let worker = InboxWorker::new(inbox.clone());
    let handle = |d: Delivery| async move {
        let name = d
            .header("webhook-event-type")
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        dispatch(&Adoptions, &name, &d.delivery.body).await
    };
    worker
        .run(handle, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
