//! The service's own side of rate limits: answering 429 with `Retry-After` and
//! `RateLimit` fields.

pub mod inbound;
