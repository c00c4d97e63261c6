//! Emission: from the IR to Rust tokens, formatted with prettyplease.
//!
//! Emitters read only the IR. Generated code names its dependencies through
//! `::acl_runtime::__private`, never through the user's imports.

pub mod client;
pub mod docs;
pub mod events;
pub mod features;
pub mod graph;
pub mod types;

use proc_macro2::TokenStream;

/// Choices that change the emitted code.
#[derive(Debug, Clone)]
pub struct EmitOptions<'a> {
    /// Derive `schemars::JsonSchema` (through `acl_runtime`'s `schemars` feature).
    pub schemars: bool,
    /// Embed the contract's documents (and `BoundarySchema` impls) for raw validation.
    pub embed_contract: bool,
    /// Per-tag feature gates (`--features-per-tag`).
    pub gates: Option<&'a features::Gates>,
}

impl Default for EmitOptions<'_> {
    fn default() -> Self {
        Self {
            schemars: false,
            embed_contract: true,
            gates: None,
        }
    }
}

/// Formats tokens as a Rust file.
pub fn format_file(tokens: TokenStream) -> Result<String, syn::Error> {
    let file: syn::File = syn::parse2(tokens)?;
    Ok(prettyplease::unparse(&file))
}
