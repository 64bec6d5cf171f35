//! Authorization server metadata (RFC 8414 §2) and OpenID Provider metadata (OIDC Discovery
//! §3): the same issuer and endpoints, listing only what is implemented.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::OAuthError;
use super::client_auth::assertion_algorithm_names;
use crate::domain::AuthMethod;
use crate::state::AppState;

pub async fn metadata(state: &AppState) -> Result<Value, OAuthError> {
    let clients = state
        .db
        .list_clients()
        .await
        .map_err(OAuthError::server_error)?;
    let scopes: BTreeSet<&str> = clients
        .iter()
        .flat_map(|c| c.scopes.iter().map(|s| s.as_str()))
        .collect();
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    // Introspection needs a client that can authenticate; a public client may still revoke its
    // own tokens (RFC 7009 §5).
    let introspection_auth_methods: Vec<&str> = auth_methods
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    let signing_algs = assertion_algorithm_names();
    let e = &state.endpoints;
    Ok(json!({
        "issuer": state.issuer.as_str(),
        "token_endpoint": e.token,
        "jwks_uri": e.jwks,
        "introspection_endpoint": e.introspection,
        "revocation_endpoint": e.revocation,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint_auth_methods_supported": introspection_auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
    }))
}
