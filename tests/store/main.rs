//! Contract tests: every backend of the durable store (SQLite, PostgreSQL) and of the ephemeral
//! store (memory, Redis) passes the same suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod clients;
mod durable;
mod ephemeral;
mod factors;
mod idempotency;
mod keyring;
mod migrations;
mod passkeys;
mod users;
mod versions;
