//! The derives on the Payments contract (`acl-codegen/tests/contracts/client.yaml`):
//! policies checked at compile time drive the generated client against a real local
//! server, and domain types map from and into the generated boundary types.

// clippy reads `retry(max_attempts = 2)` in two `#[acl]` attributes as one attribute
// written twice; they configure two operations.
#![allow(clippy::duplicated_attributes)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acl_contract_tests::client::client::{Client, GetChargeResponse};
use acl_contract_tests::client::types;
use acl_runtime::client::Error;
use acl_runtime::{FromBoundary, IntoBoundary, MappingError, Policies};

#[derive(Policies)]
#[acl(contract = "../../acl-codegen/tests/contracts/client.yaml")]
#[acl(default(
    timeout = "2s",
    retry(
        max_attempts = 2,
        backoff = "fixed",
        base = "10ms",
        max_delay = "10ms",
        jitter = "none"
    ),
    breaker(
        failure_rate = 0.5,
        min_calls = 20,
        window = 50,
        open_for = "30s",
        half_open_calls = 3
    ),
    rate_limit(per_second = 500, burst = 50)
))]
#[acl(op(id = "getCharge", timeout = "150ms", retry(max_attempts = 4)))]
#[acl(op(
    id = "createCharge",
    idempotency_key = "Idempotency-Key",
    retry(max_attempts = 2)
))]
#[acl(op(id = "listCharges", retry = "none"))]
struct PaymentsPolicies;

/// A vendor that answers after `delay`, counting requests.
async fn slow_vendor(delay: Duration) -> (String, Arc<AtomicU32>) {
    let seen = Arc::new(AtomicU32::new(0));
    let count = seen.clone();
    let app = axum::Router::new().fallback(move || {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            (
                [("content-type", "application/json")],
                r#"{"id":"ch_1","amount":5,"currency":"EUR","status":"pending"}"#,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

#[tokio::test]
async fn derived_policies_are_what_happens_against_a_real_server() {
    let (base, seen) = slow_vendor(Duration::from_millis(600)).await;
    let client = Client::builder()
        .base_url(&base)
        .bearer_token("t")
        .policies::<PaymentsPolicies>()
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client.get_charge("ch_1").await.unwrap_err();
    assert!(matches!(e, Error::Timeout { attempts: 4, .. }), "{e:?}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4,
        "retry(max_attempts = 4) on getCharge"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(600),
        "four 150 ms attempts: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "never the server's 600 ms per attempt: {took:?}"
    );

    // listCharges: retry = "none": one attempt even though the default allows two.
    let (base, seen) = slow_vendor(Duration::from_secs(3)).await;
    let client = Client::builder()
        .base_url(&base)
        .api_key("k")
        .policies::<PaymentsPolicies>()
        .build()
        .unwrap();
    let e = client.list_charges(&Default::default()).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { attempts: 1, .. }), "{e:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[derive(Debug, PartialEq, Clone)]
struct PaymentId(String);

impl From<String> for PaymentId {
    fn from(s: String) -> Self {
        PaymentId(s)
    }
}

impl From<PaymentId> for String {
    fn from(p: PaymentId) -> Self {
        p.0
    }
}

#[derive(Debug, PartialEq)]
struct Money {
    cents: i64,
}

fn money(amount: types::ChargeAmount) -> Result<Money, String> {
    let cents = *amount;
    if cents > 1_000_000 {
        return Err(format!("{cents} is above our limit"));
    }
    Ok(Money { cents })
}

#[derive(Debug, PartialEq, FromBoundary)]
#[acl(from = types::ChargeStatus, unknown = PaymentStatus::Unrecognised)]
enum PaymentStatus {
    Succeeded,
    Pending,
    Failed,
    Unrecognised,
}

#[derive(Debug, PartialEq, FromBoundary)]
#[acl(from = types::Charge)]
#[acl(deny_unmapped)]
#[acl(ignore(currency))]
struct Payment {
    id: PaymentId,
    #[acl(with = money)]
    amount: Money,
    status: PaymentStatus,
    /// Optional and nullable in the contract, required here.
    #[acl(from = "description")]
    note: String,
    #[acl(default)]
    tags: Vec<String>,
}

#[derive(Debug, Clone, IntoBoundary)]
#[acl(into = types::NewCharge)]
struct ChargeRequest {
    amount: i64,
    currency: String,
    #[acl(from = "description")]
    memo: Option<String>,
}

fn charge(json: serde_json::Value) -> types::Charge {
    serde_json::from_value(json).unwrap()
}

#[test]
fn boundary_values_map_into_the_domain_with_paths_on_failure() {
    let p = Payment::try_from(charge(serde_json::json!({
        "id": "ch_1", "amount": 500, "currency": "EUR", "status": "pending", "description": "lunch"
    })))
    .unwrap();
    assert_eq!(
        p,
        Payment {
            id: PaymentId("ch_1".into()),
            amount: Money { cents: 500 },
            status: PaymentStatus::Pending,
            note: "lunch".into(),
            tags: vec![],
        }
    );
    // An enum value the contract does not list maps to the fallback.
    let p = Payment::try_from(charge(serde_json::json!({
        "id": "ch_1", "amount": 5, "currency": "EUR", "status": "disputed", "description": "x"
    })))
    .unwrap();
    assert_eq!(p.status, PaymentStatus::Unrecognised);
    // Absent where the domain requires it: an error naming the path, not a panic.
    let e: MappingError = Payment::try_from(charge(serde_json::json!({
        "id": "ch_1", "amount": 5, "currency": "EUR", "status": "pending"
    })))
    .unwrap_err();
    assert_eq!(e.path_text(), "charge.description");
    assert!(e.to_string().contains("absent"), "{e}");
    // `null` is absent too.
    let e = Payment::try_from(charge(serde_json::json!({
        "id": "ch_1", "amount": 5, "currency": "EUR", "status": "pending", "description": null
    })))
    .unwrap_err();
    assert_eq!(e.path_text(), "charge.description");
    // A custom conversion's refusal keeps its message.
    let e = Payment::try_from(charge(serde_json::json!({
        "id": "ch_1", "amount": 5000000, "currency": "EUR", "status": "pending", "description": "x"
    })))
    .unwrap_err();
    assert_eq!(e.path_text(), "charge.amount");
    assert!(e.to_string().contains("above our limit"), "{e}");
}

#[test]
fn domain_values_map_into_boundary_values_and_the_contract_still_checks_them() {
    let b = types::NewCharge::try_from(ChargeRequest {
        amount: 500,
        currency: "EUR".into(),
        memo: Some("lunch".into()),
    })
    .unwrap();
    assert_eq!(*b.amount, 500);
    assert_eq!(b.description.as_deref(), Some("lunch"));
    // The boundary type's own rules apply: a currency that breaks the pattern.
    let e = types::NewCharge::try_from(ChargeRequest {
        amount: 500,
        currency: "euro".into(),
        memo: None,
    })
    .unwrap_err();
    assert_eq!(e.path_text(), "new_charge.currency");
    let e = types::NewCharge::try_from(ChargeRequest {
        amount: 0,
        currency: "EUR".into(),
        memo: None,
    })
    .unwrap_err();
    assert_eq!(e.path_text(), "new_charge.amount");
}

#[test]
fn a_mapped_value_flows_from_a_typed_response() {
    let r = GetChargeResponse::Ok(charge(serde_json::json!({
        "id": "ch_9", "amount": 5, "currency": "EUR", "status": "failed", "description": "n"
    })));
    let GetChargeResponse::Ok(c) = r;
    let p = Payment::try_from(c).unwrap();
    assert_eq!(p.status, PaymentStatus::Failed);
}

/// A value object made of two boundary fields.
#[derive(Debug, Clone, PartialEq)]
struct Price {
    cents: i64,
    currency: String,
}

impl Price {
    fn try_new(
        amount: types::ChargeAmount,
        currency: types::ChargeCurrency,
    ) -> Result<Price, String> {
        if *amount > 1_000_000 && *currency == "JPY" {
            return Err(format!(
                "{} {} is more than a charge may be",
                *amount, *currency
            ));
        }
        Ok(Price {
            cents: *amount,
            currency: currency.to_string(),
        })
    }

    fn amount(&self) -> Result<types::ChargeAmount, acl_runtime::Violation> {
        types::ChargeAmount::new(self.cents)
    }

    fn currency(&self) -> Result<types::ChargeCurrency, acl_runtime::Violation> {
        types::ChargeCurrency::new(self.currency.clone())
    }
}

#[derive(Debug, Clone, PartialEq, FromBoundary, IntoBoundary)]
#[acl(from = types::Charge, into = types::Charge, deny_unmapped)]
struct Sale {
    id: String,
    #[acl(
        from(amount, currency),
        with = Price::try_new,
        into(amount = Price::amount, currency = Price::currency)
    )]
    price: Price,
    status: types::ChargeStatus,
    description: Option<String>,
}

#[test]
fn a_value_object_is_made_from_several_boundary_fields_and_back() {
    let charge: types::Charge =
        serde_json::from_str(r#"{"id":"ch_1","amount":500,"currency":"EUR","status":"pending"}"#)
            .unwrap();
    let payment = Sale::try_from(charge.clone()).unwrap();
    assert_eq!(
        payment.price,
        Price {
            cents: 500,
            currency: "EUR".into()
        }
    );
    assert_eq!(types::Charge::try_from(payment.clone()).unwrap(), charge);
    // The maker's error names both source fields.
    let big: types::Charge = serde_json::from_str(
        r#"{"id":"ch_2","amount":2000000,"currency":"JPY","status":"pending"}"#,
    )
    .unwrap();
    let e = Sale::try_from(big).unwrap_err();
    assert!(
        e.to_string().contains("charge.{amount,currency}") && e.to_string().contains("more than"),
        "{e}"
    );
    // And back: a domain value the contract refuses names the boundary field.
    let wrong = Sale {
        price: Price {
            cents: 5,
            currency: "euro".into(),
        },
        ..payment
    };
    let e = types::Charge::try_from(wrong).unwrap_err();
    assert!(e.to_string().contains("charge.currency"), "{e}");
}
