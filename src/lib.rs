//! Gatehouse: an OAuth 2.0 / OpenID Connect provider that issues and rotates JWTs.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod current;
pub mod domain;
pub mod ephemeral;
pub mod http;
pub mod keyring;
pub mod oauth;
pub mod origin;
pub mod signin;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
