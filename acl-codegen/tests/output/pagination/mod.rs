//! Snapshot of generated code; see acl-codegen/tests/snapshots.rs.

pub mod client;
pub mod types;
