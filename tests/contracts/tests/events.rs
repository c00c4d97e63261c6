//! The `events` module generated from `acl-codegen/tests/contracts/events.yaml`
//! (OpenAPI 3.1 webhooks and a 3.0-style callback): decoding validates like any
//! boundary type, and `dispatch` calls the handler's method for the event.

use std::sync::Mutex;

use acl_contract_tests::events::events::{dispatch, Event, EventHandler};
use acl_contract_tests::events::types;
use acl_runtime::boundary::events::{EventError, HandlerError};

#[derive(Default)]
struct Ledger {
    seen: Mutex<Vec<String>>,
}

impl EventHandler for Ledger {
    async fn on_invoice_paid(&self, event: types::InvoicePaid) -> Result<(), HandlerError> {
        if *event.amount > 1_000_000 {
            return Err(HandlerError::Retry("needs a human".into()));
        }
        self.seen
            .lock()
            .unwrap()
            .push(format!("paid {} {}", event.invoice, *event.amount));
        Ok(())
    }

    async fn on_ping(&self) -> Result<(), HandlerError> {
        self.seen.lock().unwrap().push("ping".into());
        Ok(())
    }
}

#[tokio::test]
async fn events_decode_validate_and_dispatch() {
    let paid = br#"{"id":"evt_1","invoice":"in_1","amount":1200,"currency":"EUR"}"#;
    let Event::InvoicePaid(p) = Event::decode("invoice.paid", paid).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(p.invoice, "in_1");
    assert_eq!(Event::decode("ping", b"").unwrap(), Event::Ping);
    assert_eq!(
        Event::decode("export.ready", b"a,b\n").unwrap(),
        Event::ExportReady(b"a,b\n".to_vec())
    );
    assert_eq!(Event::decode("ping", b"").unwrap().name(), "ping");
    assert!(Event::NAMES.contains(&"createSubscription.statusChanged"));

    // Contract violations name the event and the JSON path.
    let bad = br#"{"id":"evt_2","invoice":"in_2","amount":0,"currency":"EUR"}"#;
    let e = Event::decode("invoice.paid", bad).unwrap_err();
    assert!(matches!(
        e,
        EventError::Invalid {
            name: "invoice.paid",
            ..
        }
    ));
    assert!(e.to_string().contains("amount"), "{e}");
    let e = Event::decode(
        "invoice.paid",
        br#"{"id":"x","invoice":"i","amount":5,"currency":"eur"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("currency"), "{e}");
    let e = Event::decode("invoice.refunded", b"{}").unwrap_err();
    assert!(
        e.to_string().contains("unknown event `invoice.refunded`"),
        "{e}"
    );
    // A callback; a status the contract does not list yet is kept (enums tolerate
    // evolution), a missing required field is not.
    let status = br#"{"subscription":"sub_1","status":"paused"}"#;
    let Event::CreateSubscriptionStatusChanged(s) =
        Event::decode("createSubscription.statusChanged", status).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!(s.status.as_str(), "paused");
    let e = Event::decode(
        "createSubscription.statusChanged",
        br#"{"status":"active"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("subscription"), "{e}");

    let ledger = Ledger::default();
    dispatch(&ledger, "invoice.paid", paid).await.unwrap();
    dispatch(&ledger, "ping", b"").await.unwrap();
    // Events the handler does not implement are accepted and ignored.
    dispatch(&ledger, "invoice.voided", br#"{"invoice":"in_9"}"#)
        .await
        .unwrap();
    // Invalid payloads are `Invalid` (dead-lettered), the handler's own errors pass through.
    assert!(matches!(
        dispatch(&ledger, "invoice.paid", bad).await,
        Err(HandlerError::Invalid(_))
    ));
    let big = br#"{"id":"evt_3","invoice":"in_3","amount":2000000,"currency":"EUR"}"#;
    assert_eq!(
        dispatch(&ledger, "invoice.paid", big).await,
        Err(HandlerError::Retry("needs a human".into()))
    );
    assert_eq!(
        *ledger.seen.lock().unwrap(),
        vec!["paid in_1 1200".to_string(), "ping".into()]
    );
}

#[tokio::test]
async fn a_stripe_style_delivery_is_dispatched_by_the_type_in_its_body() {
    use acl_contract_tests::events::events::{dispatch_json, dispatch_json_at};
    let ledger = Ledger::default();
    let body =
        br#"{"type":"invoice.paid","id":"evt_9","invoice":"in_9","amount":700,"currency":"EUR"}"#;
    assert_eq!(Event::NAME_AT, "/type");
    let Event::InvoicePaid(p) = Event::decode_json(body).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!((p.invoice.as_str(), *p.amount), ("in_9", 700));
    dispatch_json(&ledger, body).await.unwrap();
    // A name somewhere else, given at the call.
    let nested = br#"{"meta":{"event":"ping"}}"#;
    dispatch_json_at(&ledger, "/meta/event", nested)
        .await
        .unwrap();
    assert_eq!(*ledger.seen.lock().unwrap(), ["paid in_9 700", "ping"]);
    // The named event's schema still holds, with its path.
    let bad =
        br#"{"type":"invoice.paid","id":"evt_9","invoice":"in_9","amount":0,"currency":"EUR"}"#;
    let e = Event::decode_json(bad).unwrap_err();
    assert!(
        matches!(
            &e,
            EventError::Invalid {
                name: "invoice.paid",
                ..
            }
        ) && e.to_string().contains("amount"),
        "{e}"
    );
    // No name, a name of the wrong type, an unknown name, a body that is not JSON.
    for (body, expected) in [
        (
            &br#"{"id":"evt_1"}"#[..],
            "no event name at `/type`: absent",
        ),
        (br#"{"type":7}"#, "not a string"),
        (
            br#"{"type":"invoice.lost"}"#,
            "unknown event `invoice.lost`",
        ),
        (b"not json", "no event name at `/type`"),
    ] {
        let e = Event::decode_json(body).unwrap_err();
        assert!(e.to_string().contains(expected), "{e}");
        let h = dispatch_json(&ledger, body).await.unwrap_err();
        assert!(matches!(h, HandlerError::Invalid(_)), "{h:?}");
    }
}
