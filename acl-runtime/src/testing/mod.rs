//! Test doubles from the contract (feature `testing`): values generated from the
//! contract's own schemas ([`data`]), and the vendor itself, in-process ([`MockVendor`]):
//! documented answers, scripted faults, recorded calls; and [`check_policies`], which
//! runs a client through the faults its contract implies and reports where its policy
//! contradicts the contract.

pub mod data;
pub mod mock;
pub mod policies;
#[cfg(feature = "mock-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock-server")))]
pub mod server;
pub mod strategy;

pub use mock::{Fault, MockVendor, RecordedCall, Scenario, Script, MAX_RECORDED_CALLS};
pub use policies::{check_policies, Finding};
#[cfg(feature = "mock-server")]
pub use server::{OnRequest, RequestLog, ServeOptions, Served};
