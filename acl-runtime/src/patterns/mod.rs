//! Integration patterns beyond one request and one response: polling, asynchronous
//! replies (202 + a job to watch), batching, ordering, server-sent events, WebSockets.

pub mod async_reply;
pub mod batch;
#[cfg(feature = "webhooks")]
pub mod ordering;
#[cfg(feature = "webhooks")]
pub mod poll;
pub mod sse;
#[cfg(feature = "websocket")]
pub mod ws;
