//! What a generated client's call returns when it does not succeed.

use std::time::Duration;

use bytes::Bytes;

use crate::boundary::decode::BoundaryError;
use crate::resilience::classify::FailureClass;
use crate::resilience::retry::StopReason;
use crate::transport::TransportError;

/// A failed call to operation `operation`; `R` is the operation's response enum, so a
/// documented error status arrives typed.
#[derive(Debug, thiserror::Error)]
pub enum Error<R> {
    /// The server answered with a documented status of 400 or above (after the retries
    /// its class allows): the typed response.
    #[error("{operation}: status {status} after {attempts} attempt(s)")]
    Status {
        /// The operation id.
        operation: &'static str,
        /// The status.
        status: u16,
        /// The typed response.
        response: R,
        /// Attempts made.
        attempts: u32,
        /// Why no further attempt was made.
        stopped: StopReason,
        /// The failure class of the status.
        class: FailureClass,
    },
    /// A status the contract does not document for this operation.
    #[error("{operation}: undocumented status {status} after {attempts} attempt(s)")]
    UndocumentedStatus {
        /// The operation id.
        operation: &'static str,
        /// The status.
        status: u16,
        /// The raw body, for the dead-letter sink.
        body: Bytes,
        /// Attempts made.
        attempts: u32,
    },
    /// The response broke the contract (wrong content type, a body that does not
    /// decode, a value that breaks a rule). Never retried.
    #[error("{operation}: status {status}: the response breaks the contract: {error}")]
    InvalidBody {
        /// The operation id.
        operation: &'static str,
        /// The status.
        status: u16,
        /// Where and why.
        error: BoundaryError,
        /// The raw body, for the dead-letter sink.
        body: Bytes,
    },
    /// No response within the per-attempt timeout (or the call's deadline).
    #[error("{operation}: timed out after {attempts} attempt(s)")]
    Timeout {
        /// The operation id.
        operation: &'static str,
        /// Attempts made.
        attempts: u32,
    },
    /// The connection failed or broke.
    #[error("{operation}: {error} after {attempts} attempt(s)")]
    Transport {
        /// The operation id.
        operation: &'static str,
        /// What the transport said.
        error: TransportError,
        /// Attempts made.
        attempts: u32,
    },
    /// The circuit is open: the call was not made.
    #[error("{operation}: circuit open, retry in {retry_in:?}")]
    CircuitOpen {
        /// The operation id.
        operation: &'static str,
        /// Time until the breaker admits probes.
        retry_in: Duration,
    },
    /// The outbound rate limit refused the call within its deadline.
    #[error("{operation}: outbound rate limit, retry in {retry_after:?}")]
    RateLimited {
        /// The operation id.
        operation: &'static str,
        /// When a call would be allowed.
        retry_after: Duration,
    },
    /// The bulkhead stayed full.
    #[error("{operation}: too many calls in flight")]
    BulkheadFull {
        /// The operation id.
        operation: &'static str,
    },
    /// A paginated call could not go on: a page asked for a page already read (the
    /// vendor's pagination loops), a next-page URL that is malformed or on another
    /// origin, a page whose items are not where the contract says, a cursor that does
    /// not belong to the operation.
    #[error("{operation}: pagination: {message}")]
    Pagination {
        /// The operation id.
        operation: &'static str,
        /// Why.
        message: String,
    },
    /// The request could not be built (a parameter or body that does not serialise,
    /// a credential that could not be obtained).
    #[error("{operation}: {message}")]
    Request {
        /// The operation id.
        operation: &'static str,
        /// Why.
        message: String,
    },
}

impl<R> Error<R> {
    /// The failure class: what a caller (or a dead-letter policy) should do next.
    pub fn class(&self) -> FailureClass {
        match self {
            Error::Status { class, .. } => *class,
            Error::UndocumentedStatus { status, .. } => {
                crate::resilience::classify::Classifier::default().classify(
                    &crate::resilience::classify::Outcome::Status(*status),
                    None,
                    std::time::SystemTime::now(),
                )
            }
            Error::InvalidBody { .. } | Error::Pagination { .. } => FailureClass::InvalidData,
            Error::Timeout { .. } | Error::Transport { .. } | Error::CircuitOpen { .. } => {
                FailureClass::Transient
            }
            Error::BulkheadFull { .. } => FailureClass::Transient,
            Error::RateLimited { retry_after, .. } => FailureClass::RateLimited {
                retry_after: Some(*retry_after),
            },
            Error::Request { .. } => FailureClass::Permanent,
        }
    }

    /// The typed response of a documented error status.
    pub fn response(&self) -> Option<&R> {
        match self {
            Error::Status { response, .. } => Some(response),
            _ => None,
        }
    }
}
