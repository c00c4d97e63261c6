//! Decoding payloads into boundary types, with the path of the value that broke a rule.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A payload that does not fit its boundary type: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid data at {path}: {message}")]
pub struct BoundaryError {
    /// The JSON path of the bad value, `$` for the root (`$.pets[2].name`).
    pub path: String,
    /// The rule it broke and how (`maxLength: length 12 is above the maximum of 10`).
    pub message: String,
}

impl BoundaryError {
    /// The JSON Schema keyword named at the start of the message, when there is one
    /// (`maxLength`, `pattern`, `oneOf`, ...).
    pub fn rule(&self) -> Option<&str> {
        let (head, _) = self.message.split_once(": ")?;
        head.chars()
            .all(|c| c.is_ascii_alphanumeric())
            .then_some(head)
    }
}

/// Joins the path that a union branch put inside the message to the outer path.
fn join(path: String, message: String) -> BoundaryError {
    let (sub, rest) = super::path::split_path(&message);
    if sub.is_empty() {
        return BoundaryError { path, message };
    }
    BoundaryError {
        path: format!("{path}{sub}"),
        message: rest.to_string(),
    }
}

fn strip_position(message: String) -> String {
    // serde_json appends " at line L column C"; the path says more.
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message,
    }
}

/// Decodes JSON bytes into `T`, checking every rule of the contract on the way.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BoundaryError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        join(
            super::path::render_path(e.path()),
            strip_position(e.into_inner().to_string()),
        )
    })?;
    de.end().map_err(|e| BoundaryError {
        path: "$".into(),
        message: strip_position(e.to_string()),
    })?;
    Ok(value)
}

/// Decodes an already parsed JSON value into `T`, checking every rule of the contract.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, BoundaryError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        join(
            super::path::render_path(e.path()),
            e.into_inner().to_string(),
        )
    })
}
