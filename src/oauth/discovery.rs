//! Authorization server metadata (RFC 8414 §2) and OpenID Provider metadata (OIDC Discovery
//! §3): the same issuer and endpoints, listing only what is implemented.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::client_auth::assertion_algorithm_names;
use crate::admin::clients::ADMIN_SCOPE;
use crate::config::{IssuerUrl, Settings};
use crate::domain::AuthMethod;
use crate::signin::methods::Acr;
use crate::state::Endpoints;

/// The scopes every deployment supports: those `user_claims` (src/oauth/id_token.rs) answers
/// to, `openid` itself, and `offline_access` for refresh tokens (OIDC Core §5.4, §11).
pub const STANDARD_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The metadata document, serialized once at start: it depends only on the settings, the
/// issuer and the endpoints, so discovery never reads the database and answers while it is
/// down. `scopes_supported` (RFC 8414 §2: "RECOMMENDED", and a server "MAY choose not to
/// advertise some supported scope values") lists the standard scopes and
/// `discovery.public_scopes` only: clients' scopes, admin scopes above all, stay unpublished.
pub fn document(settings: &Settings, issuer: &IssuerUrl, endpoints: &Endpoints) -> Vec<u8> {
    // Serializing a `Value` built from strings and booleans cannot fail.
    serde_json::to_vec(&metadata(settings, issuer, endpoints)).unwrap_or_default()
}

pub fn metadata(settings: &Settings, issuer: &IssuerUrl, endpoints: &Endpoints) -> Value {
    let scopes: BTreeSet<&str> = STANDARD_SCOPES
        .into_iter()
        .chain(settings.discovery.public_scopes.iter().map(|s| s.as_str()))
        .filter(|s| !s.starts_with(ADMIN_SCOPE))
        .collect();
    // The default first; a client may ask for any other algorithm the ring holds a key for.
    let default_alg = settings.tokens.id_token_algorithm;
    let id_token_algs: Vec<&str> = std::iter::once(default_alg)
        .chain(
            settings
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
    let e = endpoints;
    json!({
        "issuer": issuer.as_str(),
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
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "acr", "amr",
            "name", "preferred_username", "updated_at", "email", "email_verified"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        // OIDC Discovery §3; what they mean: README "Second factors".
        "acr_values_supported": Acr::SUPPORTED.map(Acr::as_str),
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint_auth_methods_supported": introspection_auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
    })
}
