//! HTTP tests: each starts its own Gatehouse in-process on port 0 and talks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod flow;
mod helpers;
mod jose;
mod pages;

mod authorize;
mod authorize_prompt;
mod bulkhead;
mod consent;
mod discovery;
mod grant_lifetime;
mod health;
mod id_token;
mod introspect;
mod jwks;
mod login;
mod logout;
mod metrics;
mod password_upgrade;
mod revoke;
mod token;
mod token_authorization_code;
mod token_client_credentials;
mod token_private_key_jwt;
mod token_refresh;
mod userinfo;
