acl_runtime::include_contract!("petstore"); // `petstore::types` and `petstore::client`

use acl_runtime::client::{CallOptions, Error};
use acl_runtime::{FromBoundary, Policies};
use petstore::client::{Client, GetPetError, GetPetResponse};
use petstore::types;

/// Policies in code, checked against the contract when this crate compiles.
#[derive(Policies)]
#[acl(contract = "../contracts/petstore.yaml")]
#[acl(default(timeout = "2s", retry(max_attempts = 3), rate_limit(per_second = 20)))]
#[acl(op(id = "createPet", idempotency_key = "Idempotency-Key"))]
struct PetstorePolicies;

#[derive(Debug, FromBoundary)]
#[acl(from = types::Pet, ignore(species, tags, adopted_by, created_at, status))]
struct Animal {
    id: String,
    name: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .base_url(std::env::var("PETSTORE_URL").unwrap_or("http://127.0.0.1:8080/v1".into()))
        .api_key(std::env::var("PETSTORE_KEY").unwrap_or_default())
        .policies::<PetstorePolicies>()
        .build()?;
    match client.get_pet("rex").await {
        Ok(GetPetResponse::Ok(pet)) => {
            let animal = Animal::try_from(pet)?; // the domain never sees `types::Pet`
            println!("{}: {}", animal.id, animal.name);
        }
        Err(Error::Status {
            response: GetPetError::NotFound,
            ..
        }) => println!("no such pet"),
        Err(e) => println!("{e} (class: {:?})", e.class()), // timeout, circuit open, ...
    }
    // One call with its own deadline, and what came back besides the value.
    let quick =
        client.with_options(CallOptions::new().timeout(std::time::Duration::from_millis(300)));
    if let Ok(r) = quick.get_pet("rex").with_meta().await {
        println!("status {} after {} attempt(s)", r.status(), r.meta.attempts);
    }
    Ok(())
}
