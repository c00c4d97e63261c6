//! Webhooks in both directions (feature `webhooks`).
//!
//! **In**: a [`Receiver`] verifies the signature over the exact raw bytes
//! ([`signature`]), deduplicates by delivery id in an
//! [`IdempotencyStore`](crate::store::IdempotencyStore) (the same id with another body is
//! refused), stores the delivery in a durable [`InboxStore`](crate::store::InboxStore)
//! and answers 2xx at once. An [`InboxWorker`] processes from the inbox with retries;
//! what keeps failing, or is invalid, goes to the dead-letter queue with its error, from
//! where it can be replayed. `axum` (feature `axum`) mounts a receiver as a route.
//!
//! **Out**: a [`Sender`] delivers from a durable
//! [`OutboxStore`](crate::store::OutboxStore) at least once: Standard Webhooks
//! signatures, a retry schedule with jitter (Svix's by default), `Retry-After`
//! honoured, a timeout per attempt, status per message and per attempt, endpoints
//! disabled after continuous failure, manual replay.

pub mod destination;
pub mod inbox;
pub mod receiver;
pub mod sender;

#[cfg(feature = "axum")]
pub mod axum;

pub use acl_signature as signature;
pub use acl_signature::{Scheme, Signer, Verifier};
pub use destination::Destinations;
pub use inbox::{HandlerError, InboxWorker, Processed};
pub use receiver::{IdSource, Receipt, Receiver, Rejection};
pub use sender::{OutboundEvent, Sender};
