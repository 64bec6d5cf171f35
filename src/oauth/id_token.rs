//! ID tokens (OIDC Core §2, §3.1.3.6) and the user claims that scopes release (§5.4), shared
//! with the userinfo endpoint.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::OAuthError;
use crate::crypto::{SigningAlgorithm, sign_jwt};
use crate::domain::{Client, RESERVED_CLAIMS, ScopeSet, User};
use crate::keyring::KeyRing;
use crate::signin::methods::Methods;

/// How long an ID token is valid: it proves a sign-in to the client, which should act on it at
/// once.
pub const ID_TOKEN_LIFETIME_SECS: i64 = 300;

/// The claims `scopes` release about `user` (OIDC Core §5.4), beyond `sub`.
pub fn user_claims(user: &User, scopes: &ScopeSet) -> Map<String, Value> {
    let mut claims = Map::new();
    if scopes.contains("profile") {
        claims.insert("preferred_username".into(), json!(user.username.as_str()));
        if let Some(name) = &user.display_name {
            claims.insert("name".into(), json!(name));
        }
        claims.insert("updated_at".into(), json!(user.updated_at.unix_timestamp()));
        for (name, value) in &user.claims {
            if !RESERVED_CLAIMS.contains(&name.as_str()) {
                claims.insert(name.clone(), value.clone());
            }
        }
    }
    if scopes.contains("email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), json!(email.as_str()));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
    claims
}

/// OIDC Core §3.1.3.6: the left half of the hash of the access token, with the hash of the ID
/// token's `alg` (SHA-512 for Ed25519).
pub fn at_hash(algorithm: SigningAlgorithm, access_token: &str) -> String {
    use aws_lc_rs::digest::{SHA256, SHA512, digest};
    let hash = match algorithm {
        SigningAlgorithm::EdDsa => digest(&SHA512, access_token.as_bytes()),
        SigningAlgorithm::Es256 | SigningAlgorithm::Rs256 => {
            digest(&SHA256, access_token.as_bytes())
        }
    };
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// The algorithm `client`'s ID tokens are signed with (OIDC Registration §2
/// `id_token_signed_response_alg`, else `tokens.id_token_algorithm`), once it is known that the
/// key ring signs with it; checked before anything is spent (a code, a refresh token).
///
/// Registration refuses an algorithm outside `keys.algorithms`, but a client registered before
/// `keys.algorithms` changed may still name one. Its registration no longer fits this server:
/// that is `unauthorized_client` (RFC 6749 §5.2: the client, as registered, may not be issued
/// this grant's tokens), told so that an operator knows what to change, never a
/// `server_error`. A ring missing the key of a configured algorithm is a defect (500).
pub fn id_token_algorithm(
    keys: &KeyRing,
    configured: &[SigningAlgorithm],
    default: SigningAlgorithm,
    client: &Client,
) -> Result<SigningAlgorithm, OAuthError> {
    let algorithm = client.id_token_signed_response_alg.unwrap_or(default);
    if !configured.contains(&algorithm) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client is registered for ID tokens signed with {algorithm}, which this server \
             no longer signs with (keys.algorithms); an operator must change the client's \
             id_token_signed_response_alg"
        )));
    }
    if keys.active_key(algorithm).is_none() {
        return Err(OAuthError::server_error(anyhow::anyhow!(
            "no active {algorithm} signing key"
        )));
    }
    Ok(algorithm)
}

pub struct IdTokenRequest<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a User,
    pub scopes: &'a ScopeSet,
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    /// How the person signed in (RFC 8176 `amr`, and the `acr` it reaches); unknown for an ID
    /// token refreshed from a token issued before they were kept.
    pub methods: Option<Methods>,
    pub access_token: &'a str,
    pub algorithm: SigningAlgorithm,
    pub now: OffsetDateTime,
}

pub fn issue_id_token(keys: &KeyRing, request: &IdTokenRequest<'_>) -> Result<String, OAuthError> {
    let now = request.now.unix_timestamp();
    let mut claims = user_claims(request.user, request.scopes);
    claims.insert("iss".into(), json!(request.issuer));
    claims.insert("sub".into(), json!(request.user.id.to_string()));
    claims.insert("aud".into(), json!(request.client_id));
    claims.insert("azp".into(), json!(request.client_id));
    claims.insert("exp".into(), json!(now + ID_TOKEN_LIFETIME_SECS));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(request.auth_time));
    if let Some(methods) = request.methods {
        claims.insert("amr".into(), json!(methods.amr()));
        claims.insert("acr".into(), json!(methods.acr().as_str()));
    }
    claims.insert(
        "at_hash".into(),
        json!(at_hash(request.algorithm, request.access_token)),
    );
    if let Some(nonce) = request.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    let key = keys.active_key(request.algorithm).ok_or_else(|| {
        OAuthError::server_error(anyhow::anyhow!(
            "no active {} signing key",
            request.algorithm
        ))
    })?;
    sign_jwt(&key, "JWT", &Value::Object(claims)).map_err(OAuthError::server_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core Appendix A.3 (RS256): access token and its at_hash
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(
            at_hash(SigningAlgorithm::Rs256, token),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
