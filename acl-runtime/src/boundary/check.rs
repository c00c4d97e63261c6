//! The checks behind [`Checked`](super::Checked): one function per kind of JSON value,
//! and [`Checkable`] to pick the right ones for a Rust type.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use serde::Serialize;
use serde_json::Value;

use super::{json_equal, num_of, Constraints, Num, Violation};

/// A Rust value whose JSON form can be checked against [`Constraints`].
///
/// Implemented for the types generated code wraps in [`Checked`](super::Checked):
/// strings, numbers, lists, maps and `serde_json::Value` (which applies each rule to
/// the kind of JSON value it is meant for, as JSON Schema does).
pub trait Checkable {
    /// Checks the rules that apply to this value.
    fn check(&self, c: &Constraints) -> Result<(), Violation>;
}

impl Checkable for String {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        check_str(self, c)?;
        check_enum_const(&Value::String(self.clone()), c)
    }
}

macro_rules! checkable_int {
    ($($t:ty),*) => {$(
        impl Checkable for $t {
            fn check(&self, c: &Constraints) -> Result<(), Violation> {
                check_num(Num::Int(*self as i128), c)?;
                if c.enum_values.is_some() || c.const_value.is_some() {
                    check_enum_const(&Value::from(*self), c)?;
                }
                Ok(())
            }
        }
    )*};
}
checkable_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! checkable_float {
    ($($t:ty),*) => {$(
        impl Checkable for $t {
            fn check(&self, c: &Constraints) -> Result<(), Violation> {
                let f = *self as f64;
                let n = if f.fract() == 0.0 && f.abs() < 1e36 { Num::Int(f as i128) } else { Num::Float(f) };
                check_num(n, c)?;
                if c.enum_values.is_some() || c.const_value.is_some() {
                    check_enum_const(&Value::from(f), c)?;
                }
                Ok(())
            }
        }
    )*};
}
checkable_float!(f32, f64);

impl Checkable for bool {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        check_enum_const(&Value::Bool(*self), c)
    }
}

impl<T: Serialize> Checkable for Vec<T> {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        check_items(self.len(), c)?;
        if c.unique_items || c.enum_values.is_some() || c.const_value.is_some() {
            let value =
                serde_json::to_value(self).map_err(|e| Violation::new("type", e.to_string()))?;
            if let Value::Array(items) = &value {
                check_unique(items, c)?;
            }
            check_enum_const(&value, c)?;
        }
        Ok(())
    }
}

impl<T: Serialize> Checkable for BTreeMap<String, T> {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        check_properties(self.len(), c)?;
        if c.enum_values.is_some() || c.const_value.is_some() {
            let value =
                serde_json::to_value(self).map_err(|e| Violation::new("type", e.to_string()))?;
            check_enum_const(&value, c)?;
        }
        Ok(())
    }
}

impl Checkable for serde_json::Map<String, Value> {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        check_properties(self.len(), c)?;
        if c.enum_values.is_some() || c.const_value.is_some() {
            check_enum_const(&Value::Object(self.clone()), c)?;
        }
        Ok(())
    }
}

impl<T: Checkable> Checkable for Option<T> {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        match self {
            Some(v) => v.check(c),
            None => check_enum_const(&Value::Null, c),
        }
    }
}

impl<T: Checkable> Checkable for Box<T> {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        (**self).check(c)
    }
}

impl Checkable for Value {
    fn check(&self, c: &Constraints) -> Result<(), Violation> {
        match self {
            Value::String(s) => check_str(s, c)?,
            Value::Number(n) => {
                if let Some(n) = num_of(n) {
                    check_num(n, c)?
                }
            }
            Value::Array(items) => {
                check_items(items.len(), c)?;
                check_unique(items, c)?;
            }
            Value::Object(map) => check_properties(map.len(), c)?,
            Value::Bool(_) | Value::Null => {}
        }
        check_enum_const(self, c)
    }
}

/// Checks the string rules: lengths, pattern, format.
pub fn check_str(s: &str, c: &Constraints) -> Result<(), Violation> {
    if c.min_length.is_some() || c.max_length.is_some() {
        let len = s.chars().count() as u64;
        if let Some(min) = c.min_length {
            if len < min {
                return Err(Violation::new(
                    "minLength",
                    format!("length {len} is below the minimum of {min}"),
                ));
            }
        }
        if let Some(max) = c.max_length {
            if len > max {
                return Err(Violation::new(
                    "maxLength",
                    format!("length {len} is above the maximum of {max}"),
                ));
            }
        }
    }
    if let Some(pattern) = c.pattern {
        match pattern_matches(pattern, s) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Violation::new(
                    "pattern",
                    format!("{} does not match /{pattern}/", shown(s)),
                ))
            }
            Err(e) => return Err(Violation::new("pattern", e)),
        }
    }
    if let Some(format) = c.format {
        if let Err(why) = super::formats::check_format(format, s) {
            return Err(Violation::new(
                "format",
                format!("{} is not a valid {format}: {why}", shown(s)),
            ));
        }
    }
    Ok(())
}

/// Regular expressions are compiled once per pattern and kept for the life of the
/// process: a contract has a bounded number of patterns.
fn pattern_matches(pattern: &'static str, s: &str) -> Result<bool, String> {
    // `None`: the pattern does not compile here. An unsupported pattern must not turn
    // every value away (unsupported constructs loosen, never tighten): it is skipped,
    // and said once.
    type Cache = HashMap<&'static str, Option<fancy_regex::Regex>>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let regex = {
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(pattern) {
            Some(r) => r.clone(),
            None => {
                let compiled = acl_policy::pattern::compile(pattern);
                #[cfg(feature = "client")]
                if let Err(e) = &compiled {
                    tracing::warn!(pattern, error = %e, "a contract pattern does not compile; it is not enforced");
                }
                let r = compiled.ok();
                map.insert(pattern, r.clone());
                r
            }
        }
    };
    match regex {
        // Backtracking limits hit on hostile input: refuse rather than hang.
        Some(regex) => regex
            .is_match(s)
            .map_err(|e| format!("matching /{pattern}/ failed: {e}")),
        None => Ok(true),
    }
}

/// Checks the numeric rules: bounds, exclusive bounds, multipleOf.
pub fn check_num(n: Num, c: &Constraints) -> Result<(), Violation> {
    use std::cmp::Ordering::*;
    if let Some(min) = c.minimum {
        if matches!(n.compare(min), Some(Less) | None) {
            return Err(Violation::new(
                "minimum",
                format!("{n} is below the minimum of {min}"),
            ));
        }
    }
    if let Some(max) = c.maximum {
        if matches!(n.compare(max), Some(Greater) | None) {
            return Err(Violation::new(
                "maximum",
                format!("{n} is above the maximum of {max}"),
            ));
        }
    }
    if let Some(min) = c.exclusive_minimum {
        if !matches!(n.compare(min), Some(Greater)) {
            return Err(Violation::new(
                "exclusiveMinimum",
                format!("{n} is not above the exclusive minimum of {min}"),
            ));
        }
    }
    if let Some(max) = c.exclusive_maximum {
        if !matches!(n.compare(max), Some(Less)) {
            return Err(Violation::new(
                "exclusiveMaximum",
                format!("{n} is not below the exclusive maximum of {max}"),
            ));
        }
    }
    if let Some(m) = c.multiple_of {
        let ok = match (n, m) {
            (Num::Int(a), Num::Int(b)) if b != 0 => a % b == 0,
            _ => {
                let q = n.as_f64() / m.as_f64();
                q.is_finite() && (q - q.round()).abs() < 1e-9
            }
        };
        if !ok {
            return Err(Violation::new(
                "multipleOf",
                format!("{n} is not a multiple of {m}"),
            ));
        }
    }
    Ok(())
}

fn check_items(len: usize, c: &Constraints) -> Result<(), Violation> {
    let len = len as u64;
    if let Some(min) = c.min_items {
        if len < min {
            return Err(Violation::new(
                "minItems",
                format!("{len} items, at least {min} required"),
            ));
        }
    }
    if let Some(max) = c.max_items {
        if len > max {
            return Err(Violation::new(
                "maxItems",
                format!("{len} items, at most {max} allowed"),
            ));
        }
    }
    Ok(())
}

fn check_unique(items: &[Value], c: &Constraints) -> Result<(), Violation> {
    if c.unique_items {
        for (i, a) in items.iter().enumerate() {
            if let Some(j) = items[i + 1..].iter().position(|b| json_equal(a, b)) {
                return Err(Violation::new(
                    "uniqueItems",
                    format!("items {i} and {} are equal", i + 1 + j),
                ));
            }
        }
    }
    Ok(())
}

fn check_properties(len: usize, c: &Constraints) -> Result<(), Violation> {
    let len = len as u64;
    if let Some(min) = c.min_properties {
        if len < min {
            return Err(Violation::new(
                "minProperties",
                format!("{len} properties, at least {min} required"),
            ));
        }
    }
    if let Some(max) = c.max_properties {
        if len > max {
            return Err(Violation::new(
                "maxProperties",
                format!("{len} properties, at most {max} allowed"),
            ));
        }
    }
    Ok(())
}

/// The longest quoted value in a message: a payload's 100 MB string must not become a
/// 100 MB error (logged, stored in a dead-letter queue, sent to a tracing backend).
pub const MAX_SHOWN: usize = 80;

/// `s` quoted for a message, cut after [`MAX_SHOWN`] characters with its full size.
pub fn shown(s: &str) -> String {
    match head(s) {
        None => format!("{s:?}"),
        Some(head) => format!("{head:?}… ({} bytes)", s.len()),
    }
}

/// A JSON value for a message, cut like [`shown`].
pub fn shown_json(value: &Value) -> String {
    match value {
        Value::String(s) => shown(s),
        other => {
            let text = other.to_string();
            match head(&text) {
                None => text,
                Some(head) => format!("{head}… ({} bytes)", text.len()),
            }
        }
    }
}

/// The first [`MAX_SHOWN`] characters of `s`, when it is longer.
fn head(s: &str) -> Option<&str> {
    s.char_indices().nth(MAX_SHOWN).map(|(cut, _)| &s[..cut])
}

/// Checks `enum` and `const` by JSON equality.
pub fn check_enum_const(value: &Value, c: &Constraints) -> Result<(), Violation> {
    if let Some(text) = c.const_value {
        let expected: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if !json_equal(value, &expected) {
            return Err(Violation::new(
                "const",
                format!("{} is not {text}", shown_json(value)),
            ));
        }
    }
    if let Some(options) = c.enum_values {
        let found = options.iter().any(|text| {
            serde_json::from_str::<Value>(text).is_ok_and(|option| json_equal(value, &option))
        });
        if !found {
            return Err(Violation::new(
                "enum",
                format!("{} is not one of {}", shown_json(value), options.join(", ")),
            ));
        }
    }
    Ok(())
}
