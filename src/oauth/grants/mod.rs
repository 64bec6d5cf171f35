//! One handler per grant type, named after its `grant_type` value.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
