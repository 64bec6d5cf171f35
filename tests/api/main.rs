//! HTTP tests: each starts its own Gatehouse in-process on port 0 and talks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod health;
mod jwks;
mod metrics;
