//! proptest strategies for the generated boundary types, from their schemas: valid
//! values (which decode, and round-trip through JSON), and values that break exactly
//! one rule the types enforce, with which, so the code that maps boundary values into
//! the domain can be property-tested against what the vendor may send.
//!
//! ```no_run
//! # #[derive(Debug, serde::Deserialize)] struct Charge;
//! # impl acl_runtime::BoundarySchema for Charge {
//! #     fn contract() -> &'static acl_runtime::Contract { unimplemented!() }
//! #     const SCHEMA_REF: &'static str = "";
//! # }
//! use acl_runtime::testing::strategy;
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #[test]
//!     fn any_charge_maps(charge in strategy::valid::<Charge>()) {
//!         let _ = charge; // e.g. prop_assert!(Payment::try_from(charge).is_ok())
//!     }
//! }
//! ```

use std::sync::Arc;

use proptest::strategy::Strategy;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::data::{Broken, Generator};
use crate::BoundarySchema;

fn generator<T: BoundarySchema>() -> Arc<Generator> {
    Arc::new(
        Generator::new(T::contract())
            .unwrap_or_else(|e| panic!("the contract of {} does not read: {e}", T::SCHEMA_REF)),
    )
}

/// Valid values of `T`, generated from its schema and decoded (so every rule holds).
pub fn valid<T>() -> impl Strategy<Value = T>
where
    T: BoundarySchema + DeserializeOwned + std::fmt::Debug,
{
    let g = generator::<T>();
    proptest::num::u64::ANY.prop_filter_map("the schema has no value for this seed", move |seed| {
        let value = g.value(T::SCHEMA_REF, seed).ok()?;
        crate::from_value(&value).ok()
    })
}

/// JSON values of `T`'s schema that break exactly one enforced rule, and which.
pub fn invalid<T: BoundarySchema>() -> impl Strategy<Value = (Value, Broken)> {
    let g = generator::<T>();
    proptest::num::u64::ANY.prop_filter_map("the schema has no rule to break", move |seed| {
        g.invalid(T::SCHEMA_REF, seed)
    })
}
