//! What keeps an external system's failures from cascading: the pipeline every outbound
//! call runs through ([`pipeline`]: bulkhead, rate limit, breaker, budgeted retries,
//! timeout and deadline), its parts ([`breaker`], [`retry`], [`rate_limit`],
//! [`classify`], [`clock`]), their settings ([`config`]), and what builds on them
//! ([`fallback`], [`layer`] as a tower layer, [`chain`] for request-path call records).

pub mod breaker;
pub mod chain;
pub mod classify;
pub mod clock;
pub mod config;
pub mod fallback;
pub mod layer;
pub mod pipeline;
pub mod rate_limit;
pub mod retry;
mod window;
