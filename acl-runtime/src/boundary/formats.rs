//! Wire formats without a standard Rust type, and checks for string formats that stay
//! strings (`email`, `hostname`).

use std::fmt;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes carried as a base64 string (`format: byte`).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Base64Bytes(pub Vec<u8>);

impl fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(text.as_bytes()) {
                return Ok(Base64Bytes(bytes));
            }
        }
        Err(serde::de::Error::custom("format: not valid base64"))
    }
}

/// The type of a schema that accepts nothing (`false`, or `not: {}`): it cannot be
/// deserialised and cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Never {}

impl Serialize for Never {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        match *self {}
    }
}

impl<'de> Deserialize<'de> for Never {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "false: the contract allows no value here",
        ))
    }
}

/// Checks a string against a `format` that generated code keeps as a string.
/// Unknown formats are annotations and always pass.
pub fn check_format(format: &str, s: &str) -> Result<(), &'static str> {
    match format {
        "email" | "idn-email" => check_email(s),
        "hostname" | "idn-hostname" => check_hostname(s),
        _ => Ok(()),
    }
}

fn check_email(s: &str) -> Result<(), &'static str> {
    let (local, domain) = s.rsplit_once('@').ok_or("no @")?;
    if local.is_empty() || local.len() > 64 {
        return Err("bad local part");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("dots in the local part");
    }
    if domain.starts_with('[') && domain.ends_with(']') {
        return Ok(());
    }
    check_hostname(domain)
}

fn check_hostname(s: &str) -> Result<(), &'static str> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return Err("bad length");
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("bad label length");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with '-'");
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err("a label has a character other than letters, digits and '-'");
        }
    }
    Ok(())
}

/// The one string a `const` (or one-value `enum`) allows, e.g. a `"type": "message"` tag.
/// Zero-sized: the value lives in `R`.
pub struct Tag<R>(std::marker::PhantomData<fn() -> R>);

/// The string of a [`Tag`].
pub trait TagValue: 'static {
    /// The only value allowed.
    const VALUE: &'static str;
}

impl<R: TagValue> Tag<R> {
    /// The tag (there is only one value).
    pub const fn new() -> Self {
        Tag(std::marker::PhantomData)
    }

    /// The value on the wire.
    pub fn as_str(&self) -> &'static str {
        R::VALUE
    }
}

impl<R: TagValue> Default for Tag<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> Clone for Tag<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Tag<R> {}

impl<R> PartialEq for Tag<R> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<R> Eq for Tag<R> {}

impl<R> std::hash::Hash for Tag<R> {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl<R: TagValue> fmt::Debug for Tag<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", R::VALUE)
    }
}

impl<R: TagValue> fmt::Display for Tag<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(R::VALUE)
    }
}

impl<R: TagValue> Serialize for Tag<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(R::VALUE)
    }
}

impl<'de, R: TagValue> Deserialize<'de> for Tag<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        if s == R::VALUE {
            Ok(Self::new())
        } else {
            Err(serde::de::Error::custom(format_args!(
                "const: expected {:?}, found {:?}",
                R::VALUE,
                s
            )))
        }
    }
}

#[cfg(feature = "schemars")]
impl<R: TagValue> schemars::JsonSchema for Tag<R> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(R::VALUE)
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "const": R::VALUE })
    }
}
