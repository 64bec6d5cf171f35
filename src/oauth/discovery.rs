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
    let scopes: BTreeSet<&str> = ["openid", "profile", "email", "offline_access"]
        .into_iter()
        .chain(
            clients
                .iter()
                .flat_map(|c| c.scopes.iter().map(|s| s.as_str())),
        )
        .collect();
    // The default first; a client may ask for any other algorithm the ring holds a key for.
    let default_alg = state.settings.tokens.id_token_algorithm;
    let id_token_algs: Vec<&str> = std::iter::once(default_alg)
        .chain(
            state
                .settings
                .keys
                .algorithms
                .iter()
                .copied()
                .filter(|a| *a != default_alg),
        )
        .map(|a| a.as_str())
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
        "authorization_endpoint": e.authorization,
        "token_endpoint": e.token,
        "userinfo_endpoint": e.userinfo,
        "end_session_endpoint": e.end_session,
        "jwks_uri": e.jwks,
        "introspection_endpoint": e.introspection,
        "revocation_endpoint": e.revocation,
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        // OIDC Discovery §3: both default to true when omitted.
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_token_algs,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash",
            "name", "preferred_username", "updated_at", "email", "email_verified"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint_auth_methods_supported": introspection_auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
    }))
}
