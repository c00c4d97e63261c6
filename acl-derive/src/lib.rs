//! acl-derive: derive macros for the anti-corruption layer. Use them through
//! `acl_runtime` (feature `derive`, on by default), as serde's derives are used through
//! serde.
//!
//! - `#[derive(Policies)]`: timeout, retry, breaker and rate limit per operation,
//!   checked against the contract at compile time.
//! - `#[derive(FromBoundary)]` / `#[derive(IntoBoundary)]`: the mapping between a
//!   generated boundary type and a domain type, checked by the compiler.
//!
//! Each derive reads its attributes into typed values (`attr`), checks them (all
//! mistakes at once, at the offending literal), then expands; on error it still emits
//! the impl next to the `compile_error!`s so one mistake is one error.

mod attr;
mod mapping;
mod policies;

use proc_macro::TokenStream;

/// Policies per operation, checked against the contract. See the crate docs of
/// `acl_runtime` for the attributes.
#[proc_macro_derive(Policies, attributes(acl))]
pub fn derive_policies(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    policies::derive(input).into()
}

/// `TryFrom<Boundary> for Domain`: `#[acl(from = path::to::BoundaryType)]`.
#[proc_macro_derive(FromBoundary, attributes(acl))]
pub fn derive_from_boundary(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    mapping::derive(input, mapping::Direction::From).into()
}

/// `TryFrom<Domain> for Boundary`: `#[acl(into = path::to::BoundaryType)]`.
#[proc_macro_derive(IntoBoundary, attributes(acl))]
pub fn derive_into_boundary(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    mapping::derive(input, mapping::Direction::Into).into()
}
