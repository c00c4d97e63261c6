//! Validated values at the boundary.
//!
//! A contract says more than a Rust type can: `maxLength: 10`, `minimum: 1`,
//! `pattern: ^[a-z]+$`, `uniqueItems`. Generated code keeps those rules as data (a
//! [`Constraints`] value in a zero-sized [`Rule`] type) and wraps the value in
//! [`Checked<T, R>`], which checks them when the value is deserialised and when it is
//! constructed. The checks live here, once, so that a contract with a thousand
//! constrained fields costs a thousand small `impl Rule` blocks, not a thousand copies
//! of the validation code.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

mod check;
pub mod decode;
pub mod events;
pub mod fields;
pub mod formats;
pub mod mapping;
mod node;
mod path;
#[cfg(feature = "raw-validation")]
pub mod raw;
pub mod union;

pub use check::Checkable;

/// A number from a contract or a payload, kept exact when it is an integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer (exact).
    Int(i128),
    /// Anything else.
    Float(f64),
}

impl Num {
    /// The number as a float (inexact for very large integers).
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// The constraints of one schema, as the contract states them.
///
/// Built in `const` context by generated code:
/// `Constraints { max_length: Some(10), ..Constraints::NONE }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraints {
    /// `minLength`, in Unicode code points.
    pub min_length: Option<u64>,
    /// `maxLength`, in Unicode code points.
    pub max_length: Option<u64>,
    /// `pattern` (ECMA-262 flavoured regular expression, unanchored).
    pub pattern: Option<&'static str>,
    /// `format` for string formats that have no Rust type of their own (email, hostname).
    pub format: Option<&'static str>,
    /// `minimum`.
    pub minimum: Option<Num>,
    /// `maximum`.
    pub maximum: Option<Num>,
    /// `exclusiveMinimum` (as a number).
    pub exclusive_minimum: Option<Num>,
    /// `exclusiveMaximum` (as a number).
    pub exclusive_maximum: Option<Num>,
    /// `multipleOf`.
    pub multiple_of: Option<Num>,
    /// `minItems`.
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `uniqueItems: true`.
    pub unique_items: bool,
    /// `minProperties`.
    pub min_properties: Option<u64>,
    /// `maxProperties`.
    pub max_properties: Option<u64>,
    /// `enum`, each value as JSON text, for values that are not plain strings.
    pub enum_values: Option<&'static [&'static str]>,
    /// `const`, as JSON text.
    pub const_value: Option<&'static str>,
}

impl Constraints {
    /// No constraint at all.
    pub const NONE: Constraints = Constraints {
        min_length: None,
        max_length: None,
        pattern: None,
        format: None,
        minimum: None,
        maximum: None,
        exclusive_minimum: None,
        exclusive_maximum: None,
        multiple_of: None,
        min_items: None,
        max_items: None,
        unique_items: false,
        min_properties: None,
        max_properties: None,
        enum_values: None,
        const_value: None,
    };
}

impl Default for Constraints {
    fn default() -> Self {
        Self::NONE
    }
}

/// A value that broke a rule of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {message}")]
pub struct Violation {
    /// The JSON Schema keyword that was broken (`maxLength`, `pattern`, `required`, ...).
    pub rule: &'static str,
    /// What was wrong, with the offending value or size where it helps.
    pub message: String,
}

impl Violation {
    /// A violation of `rule`.
    pub fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

/// The rules of one generated type: a zero-sized type carrying [`Constraints`].
pub trait Rule: 'static {
    /// The constraints checked by [`Checked`].
    const CONSTRAINTS: Constraints;
}

/// A value of `T` that satisfies the rules `R` of the contract.
///
/// It can only be made through [`Checked::new`] (or `TryFrom`) and through
/// deserialisation, both of which check the rules, so holding one is proof that the
/// value is valid.
pub struct Checked<T, R> {
    value: T,
    rule: PhantomData<fn() -> R>,
}

impl<T: Checkable, R: Rule> Checked<T, R> {
    /// Checks `value` against the rules.
    pub fn new(value: T) -> Result<Self, Violation> {
        value.check(&R::CONSTRAINTS)?;
        Ok(Self {
            value,
            rule: PhantomData,
        })
    }

    /// The rules this type enforces.
    pub fn constraints() -> &'static Constraints {
        &R::CONSTRAINTS
    }
}

impl<T, R> Checked<T, R> {
    /// The validated value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The validated value, by value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T, R> std::ops::Deref for Checked<T, R> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, R> AsRef<T> for Checked<T, R> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl<T: Checkable, R: Rule> TryFrom<String> for Checked<T, R>
where
    T: From<String>,
{
    type Error = Violation;
    fn try_from(value: String) -> Result<Self, Violation> {
        Self::new(T::from(value))
    }
}

/// Checked construction from the plain value (`Quantity::try_from(3)?`), for numbers,
/// booleans, lists and maps (strings above).
macro_rules! try_from_plain {
    ($($t:ty),*) => {$(
        impl<R: Rule> TryFrom<$t> for Checked<$t, R> {
            type Error = Violation;
            fn try_from(value: $t) -> Result<Self, Violation> {
                Self::new(value)
            }
        }
    )*};
}

try_from_plain!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, bool);

/// The plain value out of a checked one (`String::from(name)`), which is also how the
/// mapping derives turn a checked boundary field into a plain domain field.
macro_rules! plain_from_checked {
    ($($t:ty),*) => {$(
        impl<R> From<Checked<$t, R>> for $t {
            fn from(checked: Checked<$t, R>) -> $t {
                checked.value
            }
        }
    )*};
}

plain_from_checked!(String, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, bool);

impl<T: Serialize, R: Rule> TryFrom<Vec<T>> for Checked<Vec<T>, R> {
    type Error = Violation;
    fn try_from(value: Vec<T>) -> Result<Self, Violation> {
        Self::new(value)
    }
}

impl<T: Serialize, R: Rule> TryFrom<BTreeMap<String, T>> for Checked<BTreeMap<String, T>, R> {
    type Error = Violation;
    fn try_from(value: BTreeMap<String, T>) -> Result<Self, Violation> {
        Self::new(value)
    }
}

impl<T: fmt::Debug, R> fmt::Debug for Checked<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: fmt::Display, R> fmt::Display for Checked<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Clone, R> Clone for Checked<T, R> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            rule: PhantomData,
        }
    }
}

impl<T: PartialEq, R> PartialEq for Checked<T, R> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq, R> Eq for Checked<T, R> {}

impl<T: PartialOrd, R> PartialOrd for Checked<T, R> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord, R> Ord for Checked<T, R> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: std::hash::Hash, R> std::hash::Hash for Checked<T, R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<T: Serialize, R> Serialize for Checked<T, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Checkable, R: Rule> Deserialize<'de> for Checked<T, R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = T::deserialize(deserializer)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema, R: Rule> schemars::JsonSchema for Checked<T, R> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = T::json_schema(generator);
        let c = &R::CONSTRAINTS;
        let num = |n: Num| match n {
            Num::Int(i) => Value::from(i as i64),
            Num::Float(f) => Value::from(f),
        };
        let entries: [(&str, Option<Value>); 12] = [
            ("minLength", c.min_length.map(Value::from)),
            ("maxLength", c.max_length.map(Value::from)),
            ("pattern", c.pattern.map(Value::from)),
            ("format", c.format.map(Value::from)),
            ("minimum", c.minimum.map(num)),
            ("maximum", c.maximum.map(num)),
            ("exclusiveMinimum", c.exclusive_minimum.map(num)),
            ("exclusiveMaximum", c.exclusive_maximum.map(num)),
            ("multipleOf", c.multiple_of.map(num)),
            ("minItems", c.min_items.map(Value::from)),
            ("maxItems", c.max_items.map(Value::from)),
            ("uniqueItems", c.unique_items.then_some(Value::Bool(true))),
        ];
        for (key, value) in entries {
            if let Some(value) = value {
                schema.insert(key.into(), value);
            }
        }
        schema
    }
}

/// Deserialises a field that the contract requires but allows to be `null`: a missing
/// key is an error, `null` is `None`. (Serde alone would take a missing key as `None`.)
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// Deserialises an optional field that may also be `null`, keeping the difference:
/// absent is `None` (through `#[serde(default)]`), `null` is `Some(None)`, a value is
/// `Some(Some(v))`.
pub fn optional_nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// JSON equality as JSON Schema defines it: numbers compare by value (`1` equals `1.0`).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (num_of(x), num_of(y)) {
            (Some(x), Some(y)) => x.compare(y) == Some(Ordering::Equal),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) fn num_of(n: &serde_json::Number) -> Option<Num> {
    if let Some(i) = n.as_i64() {
        Some(Num::Int(i as i128))
    } else if let Some(u) = n.as_u64() {
        Some(Num::Int(u as i128))
    } else {
        let f = n.as_f64()?;
        if f.fract() == 0.0 && f.abs() < 1e36 {
            Some(Num::Int(f as i128))
        } else {
            Some(Num::Float(f))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bad;
    impl Rule for Bad {
        const CONSTRAINTS: Constraints = Constraints {
            pattern: Some("(unclosed"),
            ..Constraints::NONE
        };
    }

    struct Digits;
    impl Rule for Digits {
        const CONSTRAINTS: Constraints = Constraints {
            pattern: Some("^\\d+$"),
            ..Constraints::NONE
        };
    }

    #[test]
    fn an_unsupported_pattern_is_skipped_not_enforced_against_everything() {
        assert!(Checked::<String, Bad>::new("anything".into()).is_ok());
        assert!(Checked::<String, Digits>::new("123".into()).is_ok());
        // ECMA `\d` is ASCII only.
        assert_eq!(
            Checked::<String, Digits>::new("١٢٣".into())
                .unwrap_err()
                .rule,
            "pattern"
        );
    }
}
