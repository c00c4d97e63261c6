//! Test doubles from the contract (feature `testing`): values generated from the
//! contract's own schemas ([`data`]), for the code that consumes the boundary types and
//! for test vendors.

pub mod data;
