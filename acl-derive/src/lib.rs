//! acl-derive: derive macros for the anti-corruption layer. Use them through
//! `acl_runtime` (feature `derive`, on by default), as serde's derives are used through
//! serde. Every attribute is `#[acl(...)]`; every mistake is a compile error at what
//! wrote it, all of them at once, with a "did you mean" for a misspelt key.
//!
//! # Attribute reference
//!
//! ## `#[derive(Policies)]`
//!
//! | attribute | meaning |
//! |---|---|
//! | `#[acl(contract = "contracts/api.yaml")]` | the contract, relative to the crate's `Cargo.toml`; read at compile time (a change recompiles) |
//! | `#[acl(default(setting = value, ...))]` | settings of the system and of every operation (before the contract's `x-acl-*`) |
//! | `#[acl(op(id = "operationId", setting = value, ...))]` | one operation's settings (after the contract's); repeat per operation |
//!
//! The settings are acl-policy's, under their one name (the same words as the contract's
//! `x-acl-*` extensions and a service's configuration); the full table with defaults is
//! in acl-policy's crate docs and the README. Values are literals: durations as text
//! (`timeout = "5s"`), numbers, bools, words (`backoff = "linear"`); a group is written
//! as a call (`retry(max_attempts = 3, jitter = "equal")`), and `retry = "none"`,
//! `breaker = "off"`, `rate_limit = "off"` switch one off. A bare key is `true`
//! (`fast_clock`).
//!
//! - Operation settings (`default` or `op`): `timeout`, `deadline`, `retry(...)`,
//!   `idempotent`, `idempotency_key`, `max_response_body`.
//! - System settings (`default` only): `breaker(...)`, `retry_budget(...)`,
//!   `rate_limit(...)`, `fast_clock`.
//!
//! Checked against the contract, layered as the client layers them: an operation id the
//! contract lacks, a value outside its range, a setting given twice, a system setting in
//! `op(...)`, retries on an operation that is not safe to repeat (a POST without an
//! idempotency key), a contract that does not read.
//!
//! ## `#[derive(FromBoundary)]` and `#[derive(IntoBoundary)]`
//!
//! `TryFrom<Boundary> for Domain` (`FromBoundary`) and `TryFrom<Domain> for Boundary`
//! (`IntoBoundary`), for structs with named fields and enums of unit variants.
//!
//! On the type:
//!
//! | attribute | meaning |
//! |---|---|
//! | `#[acl(from = types::Pet)]` / `#[acl(into = types::NewPet)]` | the boundary type (a type may derive both) |
//! | `#[acl(ignore(field, ...))]` | boundary fields the domain does not use |
//! | `#[acl(deny_unmapped)]` | every boundary field must be used or `ignore`d (checked by the compiler) |
//! | `#[acl(unknown = Availability::Other)]` | enums: the domain variant for values the contract did not list (the boundary enum's fallback) |
//!
//! On a field or variant:
//!
//! | attribute | meaning |
//! |---|---|
//! | `#[acl(from = "boundary_name")]` | the boundary field or variant of another name |
//! | `#[acl(with = path::to::fn)]` | converts the value (`fn(B) -> D`, or `-> Result<D, E>` with `E: Display`) |
//! | `#[acl(default)]` | not mapped: `Default::default()` (`FromBoundary`) |
//! | `#[acl(skip)]` | not mapped (a variant: refused with a `MappingError` by `IntoBoundary`) |
//!
//! Fields map by name; `Option`, `Vec` and maps convert element by element; a required
//! domain field fed by an absent optional one is a `MappingError` naming the path, never
//! a panic. Enum mappings are exhaustive `match`es: a boundary variant left out is a
//! compile error.
//!
//! # How it works
//!
//! Each derive reads its attributes (`attr`: the policy attributes into JSON layers with
//! the span of every key and value), checks them, then expands; on error it still emits
//! the impl next to the `compile_error!`s so one mistake is one error.

mod attr;
mod mapping;
mod policies;

use proc_macro::TokenStream;

/// Policies per operation, checked against the contract. The attributes are listed in
/// the crate docs ("Attribute reference").
#[proc_macro_derive(Policies, attributes(acl))]
pub fn derive_policies(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    policies::derive(input).into()
}

/// `TryFrom<Boundary> for Domain`: `#[acl(from = path::to::BoundaryType)]`; the
/// attributes are listed in the crate docs ("Attribute reference").
#[proc_macro_derive(FromBoundary, attributes(acl))]
pub fn derive_from_boundary(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    mapping::derive(input, mapping::Direction::From).into()
}

/// `TryFrom<Domain> for Boundary`: `#[acl(into = path::to::BoundaryType)]`; the
/// attributes are listed in the crate docs ("Attribute reference").
#[proc_macro_derive(IntoBoundary, attributes(acl))]
pub fn derive_into_boundary(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    mapping::derive(input, mapping::Direction::Into).into()
}
