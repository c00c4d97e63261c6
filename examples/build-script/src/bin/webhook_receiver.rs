//! A webhook receiver that runs end to end, both directions in one process:
//!
//! ```sh
//! cargo run -p acl-example-build-script --bin webhook_receiver
//! ```
//!
//! The "vendor" side publishes petstore events through acl's `Sender` (a SQLite outbox,
//! Standard Webhooks signatures, retries); the receiving side verifies them, stores them
//! in a SQLite inbox, answers 200 at once, and a worker dispatches them to typed
//! handlers generated from the contract's `webhooks` section. A forged delivery is
//! refused with 401, a duplicate is acknowledged once, a payload that breaks the
//! contract lands in the dead-letter queue with the JSON path of the problem.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use acl_runtime::boundary::events::HandlerError;
use acl_runtime::store::sqlite::SqliteStore;
use acl_runtime::store::{Delivery, InboxStore, OutboundMessage};
use acl_runtime::transport::{ReqwestTransport, Transport};
use acl_runtime::webhook::{
    Destinations, InboxWorker, OutboundEvent, Receiver, Scheme, Sender, Verifier,
};

acl_runtime::include_contract!("petstore");
use petstore::events::{dispatch, EventHandler};
use petstore::types::AdoptionEvent;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The domain side: what an adoption means to us.
struct Adoptions;

impl EventHandler for Adoptions {
    async fn on_pet_adopted(&self, event: AdoptionEvent) -> Result<(), HandlerError> {
        println!(
            "handled: pet {} adopted at {}",
            event.pet_id, event.adopted_at
        );
        Ok(())
    }
}

impl OutboundEvent for AdoptionEvent {
    const TYPE: &'static str = "pet.adopted";
    const VERSION: &'static str = "1.2.0";
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("acl-webhook-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // Receiving: verify → deduplicate → durable inbox → 200.
    let inbox = Arc::new(SqliteStore::open(dir.join("inbox.sqlite"))?);
    let verifier = Verifier::new(Scheme::Standard, [SECRET])?;
    let receiver = Arc::new(Receiver::new(
        "petstore",
        verifier,
        inbox.clone(),
        inbox.clone(),
    ));
    let app = axum::Router::new().route(
        "/webhooks/petstore",
        acl_runtime::webhook::axum::post(receiver),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/petstore", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Sending (the vendor's side): a durable outbox, signed, retried.
    let outbox = Arc::new(SqliteStore::open(dir.join("outbox.sqlite"))?);
    // The demo delivers to itself on loopback: `Destinations::Any` allows that; the
    // default, `Destinations::Public`, refuses private and loopback addresses.
    let sender = Sender::http(outbox, Destinations::Any)?;
    sender.endpoint("us", &url, SECRET)?;
    let adopted = |pet: &str| -> Result<AdoptionEvent, Box<dyn Error>> {
        Ok(acl_runtime::from_json(
            format!(r#"{{"pet_id":"{pet}","adopted_at":"2026-11-26T10:00:00Z"}}"#).as_bytes(),
        )?)
    };
    sender.publish("us", "adoption-1", &adopted("rex")?)?;
    sender.publish("us", "adoption-2", &adopted("tom")?)?;
    // A payload that breaks the contract (`adopted_at` is not a date-time).
    sender.enqueue(&OutboundMessage {
        id: "adoption-3".into(),
        endpoint: "us".into(),
        event_type: "pet.adopted".into(),
        version: "1.2.0".into(),
        payload: br#"{"pet_id":"kit","adopted_at":"yesterday"}"#.to_vec(),
        created_at: acl_runtime::store::unix_ms(),
    })?;
    let pass = sender.deliver_due().await?;
    println!("sent: {} delivered", pass.delivered);
    // The same delivery again (a sender retrying after a lost ack): acknowledged once.
    sender.replay("adoption-1")?;
    sender.deliver_due().await?;

    // A forged delivery: signed with another secret.
    let body = br#"{"pet_id":"evil","adopted_at":"2026-11-26T10:00:00Z"}"#;
    let forged = acl_runtime::webhook::Signer::new(Scheme::Standard, "whsec_Zm9yZ2Vk")?.sign(
        "adoption-x",
        unix_s(),
        body,
    )?;
    let mut request = axum::http::Request::post(&url).body(bytes_of(body))?;
    request.headers_mut().extend(forged);
    let answer = ReqwestTransport::default().send(request).await?;
    println!(
        "forged delivery answered {} ({})",
        answer.status(),
        String::from_utf8_lossy(answer.body())
    );

    // Processing: from the inbox, typed, with retries and a dead-letter queue.
    let worker = InboxWorker::new(inbox.clone()).max_attempts(3);
    let handler = |d: Delivery| async move {
        let name = d
            .header("webhook-event-type")
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned();
        dispatch(&Adoptions, &name, &d.delivery.body).await
    };
    while worker.process_one(&handler).await?.is_some() {}
    for dead in inbox.dead_letters(10)? {
        println!("dead letter {}: {}", dead.delivery.id, dead.error);
    }
    let counts = InboxStore::counts(&*inbox)?;
    println!("inbox: {} done, {} dead", counts.done, counts.dead);
    assert_eq!((counts.done, counts.dead), (2, 1));
    tokio::time::sleep(Duration::from_millis(10)).await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn unix_s() -> i64 {
    acl_runtime::store::unix_ms() / 1000
}

fn bytes_of(b: &[u8]) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(b)
}
