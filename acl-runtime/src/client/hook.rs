//! Hooks: code that sees every attempt of every call, with the operation's context.
//! Register them with `ClientBuilder::hook`; they run in the order registered.
//!
//! **When a hook runs.** [`Hook::before_attempt`] runs on every attempt (retries and
//! the OAuth2 refresh included), after acl has finished the request: the URL, the
//! parameters, the body, the credentials, the default and per-call headers and the
//! idempotency key (the same key on every attempt) are all in place. What the hook
//! changes is what is sent, so a hook that signs the request (an HMAC over method, path
//! and body) signs the final bytes. [`Hook::on_response`] sees each attempt's status
//! and headers as they arrive, before the body is read or checked against the contract;
//! [`Hook::on_transport_error`] sees a connection that failed.

use bytes::Bytes;

use super::TransportError;
use crate::resilience::config::OperationConfig;

/// What a hook knows about the attempt it sees.
#[derive(Debug, Clone, Copy)]
pub struct HookContext<'a> {
    /// The operation id (`operationId`).
    pub operation: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The contract's path template (`/charges/{chargeId}`), never the filled path.
    pub path_template: &'static str,
    /// The attempt, from 1.
    pub attempt: u32,
    /// The operation's policy, as the client was built with it.
    pub policy: &'a OperationConfig,
}

/// A hook refused to let the request go (the call fails with `Error::Request`, which
/// is not retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// Code that runs on every attempt of every call. Every method has a default that does
/// nothing, so a hook implements only what it needs.
pub trait Hook: Send + Sync + 'static {
    /// Sees, and may change, the request about to be sent (see the module docs for what
    /// is already in it). An error stops the call.
    fn before_attempt(
        &self,
        context: &HookContext<'_>,
        request: &mut http::Request<Bytes>,
    ) -> Result<(), HookError> {
        let _ = (context, request);
        Ok(())
    }

    /// Sees the status and headers of each attempt's response.
    fn on_response(&self, context: &HookContext<'_>, response: &http::response::Parts) {
        let _ = (context, response);
    }

    /// Sees an attempt whose connection failed (refused, reset, broken).
    fn on_transport_error(&self, context: &HookContext<'_>, error: &TransportError) {
        let _ = (context, error);
    }
}
