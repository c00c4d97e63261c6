//! acl-codegen: reads an external system's contract (OpenAPI 3.0 / 3.1, Swagger 2.0,
//! JSON Schema) and generates the Rust side of an anti-corruption layer.
//!
//! One core, three front ends: the CLI (`acl-codegen generate`), [`Builder`] for
//! `build.rs`, and the derive macros all build [`Settings`] and call [`Generator`].
//!
//! ```text
//! contract files --load--> documents --lower--> ir::Api --emit--> Rust files
//! ```
#![deny(missing_docs)]

pub mod diagnostics;
pub mod diff;
pub mod emit;
mod generator;
pub mod ir;
pub mod load;
pub mod lower;
pub mod subset;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use generator::{Builder, Embed, Error, Generated, Generator, Settings};
pub use subset::Subset;
