//! One handler per grant type, named after its `grant_type` value.

pub mod client_credentials;
