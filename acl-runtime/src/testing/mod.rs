//! Test doubles from the contract (feature `testing`): values generated from the
//! contract's own schemas ([`data`]), and the vendor itself, in-process ([`MockVendor`]):
//! documented answers, scripted faults, recorded calls.

pub mod data;
pub mod mock;

#[cfg(feature = "axum")]
pub use mock::Served;
pub use mock::{Fault, MockVendor, RecordedCall, Scenario, Script};
