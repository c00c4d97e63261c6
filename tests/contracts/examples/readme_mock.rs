//! The README's "Test against the vendor without the vendor" example, compiled with the
//! workspace; `tests/readme.rs` keeps the two equal.

use acl_contract_tests::client::client::{
    Client, CreateChargeBody, CreateChargeOptions, GetChargeResponse, API,
};
use acl_contract_tests::client::types;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let new_charge: types::NewCharge =
        serde_json::from_str(r#"{"amount": 500, "currency": "EUR"}"#)?;
    // README: begin
    use acl_runtime::testing::{Fault, MockVendor};

    // The vendor, from the contract the client was generated from: every operation
    // answers with a documented success whose body is generated from its schema.
    let vendor = MockVendor::new(&API);
    let client = Client::builder()
        .base_url("https://api.example.com/v1")
        .transport(vendor.clone()) // in-process; or `vendor.serve().await?.base_url` over HTTP
        .api_key("test")
        .bearer_token("test") // without the credentials an operation asks for: 401
        .build()?;

    // Two 503s, then the contract's answer: the client retries with one idempotency key.
    vendor.on("createCharge").times(2).fail(Fault::Status(503));
    client
        .create_charge(
            &CreateChargeOptions::default(),
            CreateChargeBody::Json(new_charge),
        )
        .await?;
    let keys: Vec<_> = vendor
        .calls("createCharge")
        .iter()
        .map(|c| c.header("idempotency-key"))
        .collect();
    assert!(keys.len() == 3 && keys.iter().all(|k| *k == keys[0]));

    // Every fault the contract implies for an operation, one after the other.
    for scenario in vendor.scenarios("getCharge") {
        vendor.on("getCharge").fail(scenario.fault.clone());
        match client.get_charge("ch_1").await {
            Err(e) => println!(
                "{}: {:?} after {} call(s)",
                scenario.name,
                e.class(),
                vendor.calls("getCharge").len()
            ),
            Ok(GetChargeResponse::Ok(_)) => unreachable!("every call meets the fault"),
        }
        vendor.reset();
    }
    // README: end
    Ok(())
}
