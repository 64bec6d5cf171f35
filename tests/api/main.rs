//! HTTP tests: each starts its own Gatehouse in-process on port 0 and talks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_helpers;
#[path = "../common/mod.rs"]
mod common;
mod flow;
mod helpers;
mod jose;
mod pages;
mod pending_interactions;

mod admin_auth;
mod admin_clients;
mod admin_conditional;
mod admin_grants;
mod admin_idempotency;
mod admin_keys;
mod admin_negotiation;
mod admin_pagination;
mod admin_rate_limit;
mod admin_users;
mod audit_origin;
mod authorize;
mod authorize_prompt;
mod bulkhead;
mod client_auth_throttle;
mod code_binding;
mod consent;
mod cors;
mod current_truth;
mod database_files;
mod discovery;
mod grant_lifetime;
mod health;
mod hsts;
mod id_token;
mod introspect;
mod jwks;
mod keys_across_instances;
mod limits;
mod login;
mod login_throttle;
mod logout;
mod metrics;
mod openapi;
mod outages;
mod password_upgrade;
mod public_url;
mod revoke;
mod testing_tokens;
mod token;
mod token_authorization_code;
mod token_client_credentials;
mod token_lifetime;
mod token_private_key_jwt;
mod token_refresh;
mod userinfo;
