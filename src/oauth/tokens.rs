//! JWT access tokens (RFC 9068): issued with the key ring's active key, verified against the
//! published keys only, with `typ`, `alg`, `iss` and `exp` checked and revocations honoured.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::Jwk};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::OAuthError;
use crate::crypto::{SigningAlgorithm, sha256_hex, sign_jwt};
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::keyring::KeyRing;

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 9068 §2.2 claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: OneOrMany,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A claim that is one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn from_vec(mut values: Vec<String>) -> Self {
        if values.len() == 1 {
            Self::One(values.remove(0))
        } else {
            Self::Many(values)
        }
    }
}

/// Signs `claims` with the active key for `algorithm`.
pub fn issue_access_token(
    keys: &KeyRing,
    algorithm: SigningAlgorithm,
    claims: &AccessTokenClaims,
) -> Result<String, OAuthError> {
    let key = keys.active_key(algorithm).ok_or_else(|| {
        OAuthError::server_error(anyhow::anyhow!("no active {algorithm} signing key"))
    })?;
    sign_jwt(&key, ACCESS_TOKEN_TYP, claims).map_err(OAuthError::server_error)
}

/// Why a token is not a live access token of this issuer. Never shown to callers: they get
/// `{"active": false}` or `invalid_token` whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum TokenRejection {
    #[error("not a JWT")]
    Malformed,
    #[error("typ is not at+jwt")]
    WrongType,
    #[error("unknown kid")]
    UnknownKey,
    #[error("alg does not match the key")]
    WrongAlgorithm,
    #[error("signature or claims invalid")]
    Invalid,
    #[error("issued by another issuer")]
    WrongIssuer,
    #[error("expired")]
    Expired,
    #[error("revoked")]
    Revoked,
    #[error("revocation status unknown")]
    Unavailable(#[source] EphemeralError),
}

/// Verifies `token` as an access token of `issuer` that is live at `now`.
pub fn verify_access_token(
    keys: &KeyRing,
    issuer: &str,
    token: &str,
    now: OffsetDateTime,
) -> Result<AccessTokenClaims, TokenRejection> {
    let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(TokenRejection::WrongType);
    }
    let kid = header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?;
    let key = keys.published_key(kid).ok_or(TokenRejection::UnknownKey)?;
    // The key decides the algorithm; the header's claim must agree (no alg confusion, no none).
    let algorithm = jwt_algorithm(key.algorithm());
    if header.alg != algorithm {
        return Err(TokenRejection::WrongAlgorithm);
    }
    let jwk: Jwk =
        serde_json::from_value(key.public_jwk().clone()).map_err(|_| TokenRejection::Invalid)?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| TokenRejection::Invalid)?;
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = decode::<AccessTokenClaims>(token, &decoding, &validation)
        .map_err(|_| TokenRejection::Invalid)?
        .claims;
    if claims.iss != issuer {
        return Err(TokenRejection::WrongIssuer);
    }
    if claims.exp <= now.unix_timestamp() {
        return Err(TokenRejection::Expired);
    }
    Ok(claims)
}

fn jwt_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
    }
}

fn revocation_key(jti: &str) -> String {
    format!("revoked:at:{}", sha256_hex(jti.as_bytes()))
}

/// Marks the token `jti` revoked until it would have expired anyway.
pub async fn revoke_access_token(
    ephemeral: &dyn EphemeralStore,
    claims: &AccessTokenClaims,
    now: OffsetDateTime,
) -> Result<(), EphemeralError> {
    let remaining = (claims.exp - now.unix_timestamp()).max(1) as u64;
    ephemeral
        .put(
            &revocation_key(&claims.jti),
            b"1",
            Duration::from_secs(remaining),
        )
        .await
}

/// Fails closed: if the revocation list cannot be read, the token is not accepted.
pub async fn ensure_not_revoked(
    ephemeral: &dyn EphemeralStore,
    claims: &AccessTokenClaims,
) -> Result<(), TokenRejection> {
    match ephemeral.get(&revocation_key(&claims.jti)).await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(TokenRejection::Revoked),
        Err(error) => Err(TokenRejection::Unavailable(error)),
    }
}
