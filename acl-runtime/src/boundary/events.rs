//! What generated `events` modules (typed webhooks and callbacks) and event handlers
//! share: [`HandlerError`], which decides retry or dead letter, and [`EventError`].

/// Why a handler did not process a delivery, which decides what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Try again later (a dependency is down): retried with backoff.
    #[error("transient: {0}")]
    Retry(String),
    /// The payload is invalid (it breaks the contract): dead-lettered at once.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Cannot ever succeed: dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<crate::boundary::decode::BoundaryError> for HandlerError {
    fn from(e: crate::boundary::decode::BoundaryError) -> Self {
        HandlerError::Invalid(e.to_string())
    }
}

/// An event that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The contract describes no event of this name.
    #[error("unknown event `{name}`; the contract describes: {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// The names the contract describes, comma-separated.
        known: String,
    },
    /// The body breaks the event's schema (the path says where).
    #[error("event `{name}`: {error}")]
    Invalid {
        /// The event.
        name: &'static str,
        /// What is wrong, with the JSON path.
        error: crate::boundary::decode::BoundaryError,
    },
    /// The event's name is not where it should be in the body (not JSON, no string at
    /// the pointer).
    #[error("no event name at `{pointer}`: {why}")]
    NoName {
        /// The JSON pointer the name is read from (`/type`).
        pointer: String,
        /// Why.
        why: String,
    },
}

/// Reads a JSON body once: the event's name, the string at `pointer` (`/type` for
/// Stripe), and the body as a value, to decode the event from without reading the
/// bytes again (what a generated `Event::decode_json` does).
pub fn name_at(body: &[u8], pointer: &str) -> Result<(String, serde_json::Value), EventError> {
    let no_name = |why: String| EventError::NoName {
        pointer: pointer.to_string(),
        why,
    };
    // Bounded like every boundary read (depth), and the body's size is the receiver's.
    let value: serde_json::Value =
        crate::boundary::decode::from_json(body).map_err(|e| no_name(e.to_string()))?;
    let name = match value.pointer(pointer) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => return Err(no_name(format!("not a string: {other}"))),
        None => return Err(no_name("absent".into())),
    };
    Ok((name, value))
}

impl From<EventError> for HandlerError {
    fn from(e: EventError) -> Self {
        HandlerError::Invalid(e.to_string())
    }
}
