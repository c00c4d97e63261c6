//! proptest strategies for the generated boundary types, from their schemas: valid
//! values (which decode, and round-trip through JSON), and values that break exactly
//! one rule the types enforce, with which, so the code that maps boundary values into
//! the domain can be property-tested against what the vendor may send.
//!
//! ```
//! use acl_runtime::testing::strategy;
//! use acl_runtime::BoundarySchema;
//! use proptest::prelude::*;
//!
//! /// For any generated type `T` (`types::Charge`): every valid value decodes, and every
//! /// value that breaks a rule is refused.
//! fn holds_for<T: BoundarySchema + serde::de::DeserializeOwned + std::fmt::Debug>() {
//!     proptest!(|(_value in strategy::valid::<T>())| {
//!         // e.g. prop_assert!(Payment::try_from(_value).is_ok());
//!     });
//!     proptest!(|((bad, broken) in strategy::invalid::<T>())| {
//!         prop_assert!(acl_runtime::from_value::<T>(&bad).is_err(), "{}", broken.rule);
//!     });
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
