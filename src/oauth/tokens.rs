//! JWT access tokens (RFC 9068): issued with the key ring's active key, verified against the
//! published keys only, with `typ`, `alg`, `iss` and `exp` checked and revocations honoured.

use jsonwebtoken::decode_header;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::OAuthError;
use super::lifetime::{LifetimeError, TokenKind, check_lifetime};
use super::verified::Verified;
use uuid::Uuid;

use crate::crypto::{SigningAlgorithm, sha256_hex, sign_jwt};
use crate::current::TokenFacts;
use crate::domain::{Client, RESERVED_CLAIMS, ScopeSet};
use crate::keyring::KeyRing;
use crate::state::AppState;
use crate::store::{ChangeKind, NewChange, StoreError};

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
    /// The grant a user's token was issued under: revoking the grant revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// The token family (one authorization code and its refreshes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
    /// Further claims (only minted test tokens carry any); never a name of
    /// [`is_reserved_access_token_claim`].
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Whether a claim name is one Gatehouse sets itself, which extra claims may not override: the
/// reserved claims of users, the members of an introspection response (RFC 7662 §2.2) and
/// the grant and family ids that revocation relies on.
pub fn is_reserved_access_token_claim(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
        || ["active", "token_type", "username", "gid", "fid"].contains(&name)
}

/// What `POST /testing/tokens` asks for, already validated.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub sub: String,
    pub aud: OneOrMany,
    pub client_id: String,
    pub scope: ScopeSet,
    pub claims: Map<String, Value>,
    pub lifetime_secs: u32,
}

/// A token for any subject, signed by the key ring like every other and accepted by
/// introspection like every other (test mode only).
pub fn mint_access_token(
    state: &AppState,
    request: MintRequest,
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    if let Some(name) = request
        .claims
        .keys()
        .find(|name| is_reserved_access_token_claim(name))
    {
        anyhow::bail!("claim {name} is reserved");
    }
    let claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        sub: request.sub,
        aud: request.aud,
        exp: now.unix_timestamp() + i64::from(request.lifetime_secs),
        iat: now.unix_timestamp(),
        jti: Uuid::new_v4().to_string(),
        client_id: request.client_id,
        scope: (!request.scope.is_empty()).then(|| request.scope.to_delimited()),
        gid: None,
        fid: None,
        extra: request.claims,
    };
    let algorithm = state.settings.tokens.access_token_algorithm;
    let key = state
        .keys
        .active_key(algorithm)
        .ok_or_else(|| anyhow::anyhow!("no active {algorithm} signing key"))?;
    Ok(sign_jwt(&key, ACCESS_TOKEN_TYP, &claims)?)
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
    #[error("lifetime out of bounds: {0}")]
    Lifetime(LifetimeError),
    #[error("revoked")]
    Revoked,
    #[error("revocation status unknown")]
    Unavailable(#[source] crate::current::Unavailable),
}

/// Verifies `token` as an access token of this issuer that is live at `now`: signed by one of
/// our keys (an unknown `kid` reloads the ring first, see [`KeyRing::verifying_key`]), typed
/// `at+jwt` (RFC 9068 §4), from our `iss`, not expired, and with an `iat` and lifetime that
/// Gatehouse could have issued ([`check_lifetime`]).
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
    now: OffsetDateTime,
) -> Result<AccessTokenClaims, TokenRejection> {
    let verify = || async {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenRejection::WrongType);
        }
        let (kid, claims) = verify_signed_by_us(&state.keys, token, now).await?;
        Ok(Verified { kid, claims })
    };
    let verified = state
        .verified_tokens
        .get(&state.metrics, token, verify)
        .await?;
    // Seen before or not, its key must be trusted now (a revoked key fails its tokens at once).
    if state.keys.verifying_key(&verified.kid, now).await.is_none() {
        return Err(TokenRejection::UnknownKey);
    }
    let claims = verified.claims.clone();
    if claims.iss != state.issuer.as_str() {
        return Err(TokenRejection::WrongIssuer);
    }
    check_lifetime(
        TokenKind::Access,
        Some(claims.iat),
        Some(claims.exp),
        now.unix_timestamp(),
        state.settings.tokens.clock_leeway_secs,
    )
    .map_err(TokenRejection::Lifetime)?;
    if claims.exp <= now.unix_timestamp() {
        return Err(TokenRejection::Expired);
    }
    Ok(claims)
}

/// Verifies that one of our published keys signed `token` and returns its claims. The key,
/// found by `kid` (reloading the ring once if this instance does not know it yet), decides the
/// algorithm; the header's `alg` must agree (no `none`, no HMAC, no algorithm confusion).
/// Claims such as `exp` and `iat` are the caller's to check. Returns the key's id with them.
pub async fn verify_signed_by_us<C: serde::de::DeserializeOwned>(
    keys: &KeyRing,
    token: &str,
    now: OffsetDateTime,
) -> Result<(String, C), TokenRejection> {
    let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
    let kid = header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?;
    let key = keys
        .verifying_key(kid, now)
        .await
        .ok_or(TokenRejection::UnknownKey)?;
    if header.alg != key.jwt_algorithm() {
        return Err(TokenRejection::WrongAlgorithm);
    }
    let claims = key
        .decode::<C>(token)
        .map_err(|_| TokenRejection::Invalid)?;
    Ok((kid.to_owned(), claims))
}

/// A user's access token (RFC 9068 §2.2: `sub` is the user), tied to its grant and family.
pub fn issue_user_access_token(
    state: &AppState,
    client: &Client,
    user_id: &Uuid,
    scope: &ScopeSet,
    grant_id: Uuid,
    family_id: Uuid,
    now: OffsetDateTime,
) -> Result<(String, u64), OAuthError> {
    let lifetime = client
        .access_token_ttl_secs
        .unwrap_or(state.settings.tokens.access_token_ttl_secs);
    let claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        sub: user_id.to_string(),
        aud: token_audience(state.issuer.as_str(), client, scope),
        exp: now.unix_timestamp() + i64::from(lifetime),
        iat: now.unix_timestamp(),
        jti: Uuid::new_v4().to_string(),
        client_id: client.id.to_string(),
        scope: (!scope.is_empty()).then(|| scope.to_delimited()),
        gid: Some(grant_id.to_string()),
        fid: Some(family_id.to_string()),
        extra: Map::new(),
    };
    let token = issue_access_token(
        &state.keys,
        state.settings.tokens.access_token_algorithm,
        &claims,
    )?;
    Ok((token, u64::from(lifetime)))
}

/// The audience of a token issued without a `resource` for `scope`. A token that carries an
/// admin scope is for the admin API and nothing else (RFC 8707 §2; RFC 9068 §4 has resource
/// servers check `aud`), so no resource server it was sent to can replay it at `/v1`.
pub fn token_audience(issuer: &str, client: &Client, scope: &ScopeSet) -> OneOrMany {
    if crate::admin::clients::has_admin_scope(scope) {
        OneOrMany::One(crate::admin::clients::admin_api_audience(issuer))
    } else {
        default_audience(client)
    }
}

/// The audience of a token issued without a `resource`: the client's first registered
/// audience, else the client itself.
pub fn default_audience(client: &Client) -> OneOrMany {
    OneOrMany::One(
        client
            .audiences
            .first()
            .map_or_else(|| client.id.to_string(), |a| a.as_str().to_owned()),
    )
}

/// Marks every access token issued under a grant or a family revoked, durably and on every
/// instance, for as long as any of them can live.
pub async fn revoke_issued_under(
    state: &AppState,
    grant_id: Option<Uuid>,
    family_id: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let changes = grant_id
        .map(|g| NewChange::revocation(ChangeKind::Grant, g.to_string(), now))
        .into_iter()
        .chain(family_id.map(|f| NewChange::revocation(ChangeKind::Family, f.to_string(), now)));
    for change in changes {
        state
            .current
            .record(change, now)
            .await
            .map_err(OAuthError::from_backend)?;
    }
    Ok(())
}

/// Marks the token revoked (RFC 7009 §2.2), durably and on every instance, until it would
/// have expired anyway.
pub async fn revoke_access_token(
    state: &AppState,
    claims: &AccessTokenClaims,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp.saturating_add(60))
        .unwrap_or(now + crate::store::REVOCATION_HORIZON);
    let change = NewChange {
        kind: ChangeKind::Token,
        subject: sha256_hex(claims.jti.as_bytes()),
        at: now,
        expires_at,
    };
    state.current.record(change, now).await
}

/// The facts of `claims` that revocations are decided on.
fn facts<'a>(claims: &'a AccessTokenClaims, jti_digest: &'a str) -> TokenFacts<'a> {
    TokenFacts {
        jti_digest,
        sub: &claims.sub,
        client_id: &claims.client_id,
        grant_id: claims.gid.as_deref(),
        family_id: claims.fid.as_deref(),
        scope: claims.scope.as_deref(),
        issued_at: claims.iat,
    }
}

/// Whether a verified token still stands now: not revoked by `jti`, grant or family, and
/// issued after any cut-off of its user, its client or one of its scopes (sign-out, disable,
/// delete, a scope taken away), whichever instance or command did it. Answered from the
/// in-process copy of the change feed: no round trip.
pub async fn ensure_not_revoked(
    state: &AppState,
    claims: &AccessTokenClaims,
) -> Result<(), TokenRejection> {
    let jti_digest = sha256_hex(claims.jti.as_bytes());
    let now = state.clock.now();
    match state
        .current
        .token_refusal(&facts(claims, &jti_digest), now)
        .await
    {
        Ok(None) => Ok(()),
        Ok(Some(why)) => {
            tracing::debug!(reason = why, "token refused");
            Err(TokenRejection::Revoked)
        }
        Err(error) => Err(TokenRejection::Unavailable(error)),
    }
}
