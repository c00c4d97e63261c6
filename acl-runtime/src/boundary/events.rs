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
}

impl From<EventError> for HandlerError {
    fn from(e: EventError) -> Self {
        HandlerError::Invalid(e.to_string())
    }
}
