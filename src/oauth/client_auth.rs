//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! RFC 7523 §2.2 and §3, OIDC Core §9). A client authenticates with exactly the method it
//! registered; anything else is `invalid_client`.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;
use time::OffsetDateTime;

use super::throttle::{Limits, RecentFailures, Throttle};
use super::{FormRequest, OAuthError};
use crate::crypto::{PlainSecret, sha256_hex};
use crate::current::{CachedClient, ClientCache};
use crate::domain::{AuthMethod, Client, ClientId};
use crate::ephemeral::EphemeralStore;
use crate::store::{Database, StoreError};
use crate::telemetry::Metrics;

/// RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Algorithms accepted for client assertions: asymmetric only, never `none` or HMAC (a shared
/// secret would defeat the point of `private_key_jwt`).
pub const ASSERTION_ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// The JOSE names of [`ASSERTION_ALGORITHMS`], for discovery.
pub fn assertion_algorithm_names() -> Vec<&'static str> {
    vec![
        "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
    ]
}

/// How far a clock may be off between the client and us.
const LEEWAY: Duration = Duration::from_secs(30);

/// What the caller needs to authenticate clients.
pub struct ClientAuthContext<'a> {
    /// The client address the request came from.
    pub from: std::net::IpAddr,
    /// Who failed here lately: only they pay a look at the shared failure counts.
    pub recent_failures: &'a RecentFailures,
    pub limits: Limits,
    pub db: &'a dyn Database,
    /// Clients and their secret digests, cached in process.
    pub clients: &'a ClientCache,
    pub metrics: &'a Metrics,
    pub ephemeral: &'a dyn EphemeralStore,
    /// Values accepted as a client assertion's `aud`: the issuer and the token endpoint.
    pub audiences: [&'a str; 2],
    /// The longest an assertion may live (`exp` this far ahead of `now` at most).
    pub max_assertion_lifetime: Duration,
    pub now: OffsetDateTime,
}

/// Authenticates the client of `form`; the authenticated client, or `invalid_client`
/// (`invalid_request` when several methods are used at once, RFC 6749 §2.3).
pub async fn authenticate_client(
    ctx: &ClientAuthContext<'_>,
    form: &FormRequest,
) -> Result<Client, OAuthError> {
    let tried_basic = form.basic.is_some();
    let claimed = form
        .basic
        .as_ref()
        .map(|basic| basic.client_id.as_str())
        .or_else(|| form.get("client_id"))
        .unwrap_or("");
    // Built only when needed: with no failure remembered here (the steady state), a request
    // hashes no keys and reads nothing.
    let throttle = || Throttle::new(ctx.ephemeral, "client-auth", claimed, ctx.from, ctx.limits);
    if ctx.recent_failures.anything(ctx.now) {
        let throttle = throttle();
        if ctx.recent_failures.any(&throttle.local_keys(), ctx.now) {
            match throttle.judge_failures().await {
                Ok(None) => {}
                Ok(Some(refusal)) => {
                    tracing::debug!(reason = refusal.as_str(), "client authentication refused");
                    return Err(OAuthError::too_many_attempts(throttle.retry_after()));
                }
                Err(error) => return Err(OAuthError::from_backend(error)),
            }
        }
    }
    let result = authenticate(ctx, form).await;
    if result
        .as_ref()
        .is_err_and(|error| error.code == super::ErrorCode::InvalidClient)
    {
        let throttle = throttle();
        let until = ctx.now + throttle.retry_after();
        ctx.recent_failures
            .note(&throttle.local_keys(), ctx.now, until);
        if let Err(error) = throttle.count_failure().await {
            tracing::warn!(%error, "cannot count a failed client authentication");
        }
    }
    result.map_err(|e| e.with_basic_auth_attempted(tried_basic))
}

async fn authenticate(
    ctx: &ClientAuthContext<'_>,
    form: &FormRequest,
) -> Result<Client, OAuthError> {
    let body_secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let methods = [
        form.basic.is_some(),
        body_secret.is_some(),
        assertion.is_some(),
    ];
    if methods.iter().filter(|used| **used).count() > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    if let Some(basic) = &form.basic {
        if form
            .get("client_id")
            .is_some_and(|id| id != basic.client_id)
        {
            return Err(OAuthError::invalid_request(
                "client_id does not match the credentials",
            ));
        }
        let client = registered(ctx, &basic.client_id, AuthMethod::ClientSecretBasic).await?;
        return verify_secret(ctx, client, &basic.secret).await;
    }
    if let Some(secret) = body_secret {
        let id = form.get("client_id").ok_or_else(unknown_client)?;
        let client = registered(ctx, id, AuthMethod::ClientSecretPost).await?;
        return verify_secret(ctx, client, &PlainSecret::from_presented(secret.to_owned())).await;
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(OAuthError::invalid_client(
                "unsupported client_assertion_type",
            ));
        }
        return verify_assertion(ctx, form.get("client_id"), assertion).await;
    }
    match form.get("client_id") {
        Some(id) => Ok(registered(ctx, id, AuthMethod::None).await?.client.clone()),
        None => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
    }
}

fn unknown_client() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// The client `id`, if it exists and registered `method`. One answer for every failure, so a
/// caller cannot probe which client ids exist.
async fn registered(
    ctx: &ClientAuthContext<'_>,
    id: &str,
    method: AuthMethod,
) -> Result<Arc<CachedClient>, OAuthError> {
    let id = ClientId::parse(id).map_err(|_| unknown_client())?;
    let cached = match ctx.clients.get(ctx.db, ctx.metrics, &id, ctx.now).await {
        Ok(cached) => cached,
        Err(StoreError::NotFound) => return Err(unknown_client()),
        Err(other) => return Err(OAuthError::from_backend(other)),
    };
    // A disabled client is refused like an unknown one: it may do nothing at all.
    if cached.client.auth_method != method || cached.client.disabled {
        return Err(unknown_client());
    }
    Ok(cached)
}

async fn verify_secret(
    ctx: &ClientAuthContext<'_>,
    cached: Arc<CachedClient>,
    secret: &PlainSecret,
) -> Result<Client, OAuthError> {
    let live = cached.secrets.iter().filter(|s| s.is_live(ctx.now));
    if secret.matches_any(live.map(|s| &s.digest)) {
        Ok(cached.client.clone())
    } else {
        Err(unknown_client())
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, accepted: &[&str]) -> bool {
        match self {
            Self::One(aud) => accepted.contains(&aud.as_str()),
            Self::Many(auds) => auds.iter().any(|aud| accepted.contains(&aud.as_str())),
        }
    }
}

/// RFC 7523 §3: signature by one of the client's registered keys, `iss` = `sub` = client id,
/// `aud` naming us, a short `exp`, and a `jti` never seen before.
async fn verify_assertion(
    ctx: &ClientAuthContext<'_>,
    client_id: Option<&str>,
    assertion: &str,
) -> Result<Client, OAuthError> {
    let rejected = |why: &'static str| OAuthError::invalid_client(why);
    let header =
        decode_header(assertion).map_err(|_| rejected("the client assertion is not a JWT"))?;
    if !ASSERTION_ALGORITHMS.contains(&header.alg) {
        return Err(rejected("the client assertion's algorithm is not accepted"));
    }
    // RFC 7515 §4.1.11: a recipient that does not understand every extension listed in
    // `crit` must refuse the JWS. Gatehouse understands none, so any `crit` is refused.
    if names_critical_extensions(assertion) {
        return Err(rejected(
            "the client assertion lists critical extensions (crit) that are not understood",
        ));
    }
    // The claims are read before the signature is checked only to find the client's keys.
    let unverified =
        unverified_claims(assertion).ok_or_else(|| rejected("malformed client assertion"))?;
    if client_id.is_some_and(|id| id != unverified.sub) {
        return Err(OAuthError::invalid_request(
            "client_id does not match the assertion",
        ));
    }
    let cached = registered(ctx, &unverified.sub, AuthMethod::PrivateKeyJwt).await?;
    let client = &cached.client;
    let claims = verify_with_client_keys(&cached, assertion, header.alg, header.kid.as_deref())
        .ok_or_else(|| rejected("the client assertion's signature does not verify"))?;
    if claims.iss != client.id.as_str() || claims.sub != client.id.as_str() {
        return Err(rejected(
            "the client assertion's iss and sub must be the client id",
        ));
    }
    if !claims.aud.contains_any(&ctx.audiences) {
        return Err(rejected(
            "the client assertion's aud must be the issuer or the token endpoint",
        ));
    }
    let now = ctx.now.unix_timestamp();
    let leeway = LEEWAY.as_secs() as i64;
    if claims.exp + leeway <= now {
        return Err(rejected("the client assertion has expired"));
    }
    // RFC 7523 §3 leaves the longest lifetime to us; it also bounds how long a `jti` is
    // remembered. The description names both numbers, in the RFC 6749 §5.2 charset.
    let max = ctx.max_assertion_lifetime.as_secs() as i64;
    let lifetime = claims.exp - now;
    if lifetime > max + leeway {
        return Err(OAuthError::invalid_client(format!(
            "the client assertion expires in {lifetime} seconds, longer than the maximum \
             lifetime of {max} seconds"
        )));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + leeway)
        || claims.iat.is_some_and(|iat| iat > now + leeway)
    {
        return Err(rejected("the client assertion is not valid yet"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(rejected("the client assertion needs a jti"));
    }
    let replay_key = format!(
        "assertion:{}:{}",
        client.id,
        sha256_hex(claims.jti.as_bytes())
    );
    let remaining = Duration::from_secs((claims.exp + leeway - now).max(1) as u64);
    let first_use = ctx
        .ephemeral
        .put_if_absent(&replay_key, b"1", remaining)
        .await
        .map_err(OAuthError::from_backend)?;
    if !first_use {
        return Err(rejected("the client assertion was already used"));
    }
    Ok(client.clone())
}

/// Whether the protected header carries `crit` at all (an empty or malformed one is refused
/// too: RFC 7515 §4.1.11 forbids an empty list).
fn names_critical_extensions(assertion: &str) -> bool {
    use base64::Engine as _;
    let Some(header) = assertion.split('.').next() else {
        return true;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) else {
        return true;
    };
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
        Ok(fields) => fields.contains_key("crit"),
        Err(_) => true,
    }
}

fn unverified_claims(assertion: &str) -> Option<AssertionClaims> {
    use base64::Engine as _;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Tries the client's keys that fit the header (by `kid` when given).
fn verify_with_client_keys(
    cached: &CachedClient,
    assertion: &str,
    alg: Algorithm,
    kid: Option<&str>,
) -> Option<AssertionClaims> {
    let mut validation = Validation::new(alg);
    // Time and audience are checked by hand against the injected clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    cached
        .assertion_keys
        .iter()
        .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
        .find_map(|key| decode::<AssertionClaims>(assertion, &key.key, &validation).ok())
        .map(|data| data.claims)
}
