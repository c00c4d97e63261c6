acl_runtime::include_contract!("petstore"); // the module build.rs wrote: `petstore::types`

use acl_runtime::FromBoundary;
use petstore::types;

/// The domain's view of a pet: only what this service uses, in its own words.
#[derive(Debug, FromBoundary)]
#[acl(from = types::Pet, ignore(species, tags, adopted_by, created_at))]
struct Animal {
    id: String,
    #[acl(from = "name")]
    label: String,
    #[acl(from = "status")]
    state: State,
}

#[derive(Debug, PartialEq, FromBoundary)]
#[acl(from = types::PetStatus, unknown = State::Other)]
enum State {
    Available,
    #[acl(from = "Pending")]
    Reserved,
    Adopted,
    Other,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let payload = br#"{"id": "p1", "name": "Rex", "species": {"kind": "dog", "good_boy": true},
                       "status": "pending", "created_at": "2026-11-26T10:00:00Z"}"#;
    let pet: types::Pet = acl_runtime::from_json(payload)?; // checked against the contract
    let animal = Animal::try_from(pet)?; // and mapped: the domain never sees `types::Pet`
    assert_eq!(animal.state, State::Reserved);
    println!("{} ({}) is {:?}", animal.label, animal.id, animal.state);
    Ok(())
}
