//! Who is calling: a bearer access token issued by this Gatehouse (RFC 6750 §2.1) for the admin
//! API's audience, live and not revoked, carrying `gatehouse:admin` (any request) or
//! `gatehouse:admin:read` (GET only), from a client that exists, is enabled and still holds
//! that scope. A person's token (issued through the authorization code flow: its `sub` is the
//! person, not the client) also needs the person to exist, be enabled and hold a role that allows
//! the request now (`admin` for any, `auditor` for reads), so a role taken away ends their
//! administration at once; the person is then the actor of what they do.

use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::problem::ApiError;
use crate::crypto::sha256_hex;
use crate::domain::ClientId;
use crate::oauth::tokens::{OneOrMany, TokenRejection, ensure_not_revoked, verify_access_token};
use crate::state::AppState;
use crate::store::StoreError;
use uuid::Uuid;

use crate::admin::clients::{ADMIN_READ_SCOPE as READ_SCOPE, ADMIN_SCOPE, admin_api_audience};

/// The authenticated caller: the person behind a person's token, else the client acting as
/// itself. It is the actor of changes, and what rate limits and `Idempotency-Key`s are counted
/// per.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The person's id, or the client's.
    actor: String,
}

impl Caller {
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no AppState registered")))?;
            authenticate(state, bearer_token(&req)?, req.method()).await
        })
    }
}

/// The token of an `Authorization: Bearer` header; 401 without one.
fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::InvalidToken { token_sent: false });
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken { token_sent: true })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        // Another scheme (e.g. Basic) is no bearer token at all.
        _ => Err(ApiError::InvalidToken { token_sent: false }),
    }
}

async fn authenticate(state: &AppState, token: &str, method: &Method) -> Result<Caller, ApiError> {
    let invalid = ApiError::InvalidToken { token_sent: true };
    let now = state.clock.now();
    let claims = verify_access_token(state, token, now)
        .await
        .map_err(|_| ApiError::InvalidToken { token_sent: true })?;
    match ensure_not_revoked(state, &claims).await {
        Ok(()) => {}
        Err(TokenRejection::Unavailable(error)) => {
            tracing::warn!(error = %error, "token revocation status unknown");
            return Err(ApiError::Unavailable("revocation status unknown".into()));
        }
        Err(_) => return Err(invalid),
    }
    let scopes = claims.scope.as_deref().unwrap_or_default();
    if !allows(scopes, method) {
        return Err(ApiError::InsufficientScope);
    }
    // RFC 9068 §4: a token for another resource server is no token for this one, whatever
    // scope it carries (RFC 6750 §3.1: "invalid for other reasons").
    if !audience_includes(&claims.aud, &admin_api_audience(state.issuer.as_str())) {
        tracing::info!(client_id = %claims.client_id, "admin API token for another audience");
        return Err(invalid);
    }
    // What is true now: the client still exists, is enabled and still holds the scope its
    // token uses (a scope removed from it, or a deleted client, ends its administration).
    let client_allows = client_still_allows(state, &claims.client_id, method).await?;
    if !client_allows {
        tracing::info!(client_id = %claims.client_id, "admin API token of a client that may no longer administer");
        return Err(invalid);
    }
    let user_id = person_allows(state, &claims.sub, &claims.client_id, method).await?;
    let actor = user_id.map_or_else(|| claims.client_id.clone(), |id| id.to_string());
    within_rate_limit(state, &actor).await?;
    crate::origin::came_through(&claims.client_id);
    Ok(Caller { actor })
}

fn audience_includes(aud: &OneOrMany, wanted: &str) -> bool {
    match aud {
        OneOrMany::One(one) => one == wanted,
        OneOrMany::Many(many) => many.iter().any(|a| a == wanted),
    }
}

async fn client_still_allows(
    state: &AppState,
    client_id: &str,
    method: &Method,
) -> Result<bool, ApiError> {
    let Ok(id) = ClientId::parse(client_id) else {
        return Ok(false);
    };
    let now = state.clock.now();
    match state
        .current
        .clients
        .get(state.db.as_ref(), &state.metrics, &id, now)
        .await
    {
        Ok(cached) => {
            Ok(!cached.client.disabled && allows(&cached.client.scopes.to_delimited(), method))
        }
        // Test mode mints tokens for any client id to anyone who asks: a registered client
        // would add nothing there (and the harness's minted admin token names none).
        Err(StoreError::NotFound) => Ok(state.settings.testing.enabled),
        Err(error) => {
            tracing::warn!(%error, "cannot read the admin client");
            Err(ApiError::Unavailable("client status unknown".into()))
        }
    }
}

/// The person behind a person's token, who must exist, be enabled and hold a role that allows
/// `method` now; `None` for a client's own token (client_credentials: its `sub` is the client).
async fn person_allows(
    state: &AppState,
    sub: &str,
    client_id: &str,
    method: &Method,
) -> Result<Option<Uuid>, ApiError> {
    if sub == client_id {
        return Ok(None);
    }
    let Ok(id) = Uuid::parse_str(sub) else {
        // Test mode mints tokens for any subject; elsewhere only people have other subjects.
        return match state.settings.testing.enabled {
            true => Ok(None),
            false => Err(ApiError::InvalidToken { token_sent: true }),
        };
    };
    match state
        .current
        .users
        .get(state.db.as_ref(), &state.metrics, id)
        .await
    {
        Ok(user) if user.disabled => {
            tracing::info!(user_id = %id, "admin API token of a disabled person");
            Err(ApiError::InvalidToken { token_sent: true })
        }
        Ok(user) => {
            let allowed = match *method {
                Method::GET | Method::HEAD => user.roles.may_read(),
                _ => user.roles.may_change(),
            };
            if allowed {
                Ok(Some(id))
            } else {
                tracing::info!(user_id = %id, roles = ?user.roles, "admin API request refused: the person's roles do not allow it");
                Err(ApiError::InsufficientScope)
            }
        }
        Err(StoreError::NotFound) if state.settings.testing.enabled => Ok(None),
        Err(StoreError::NotFound) => Err(ApiError::InvalidToken { token_sent: true }),
        Err(error) => {
            tracing::warn!(%error, "cannot read the person behind an admin token");
            Err(ApiError::Unavailable("user status unknown".into()))
        }
    }
}

/// At most `admin.requests_per_minute` requests per caller and clock minute, counted in the
/// ephemeral store, so every instance sharing a Redis counts together.
async fn within_rate_limit(state: &AppState, actor: &str) -> Result<(), ApiError> {
    let limit = state.settings.admin.requests_per_minute;
    let now = state.clock.now().unix_timestamp();
    let window = now.div_euclid(60);
    let key = format!("ratelimit:admin:{}:{window}", sha256_hex(actor.as_bytes()));
    let count = state
        .ephemeral
        .increment(&key, std::time::Duration::from_secs(120))
        .await
        .map_err(|error| {
            tracing::warn!(%error, "admin rate limit unavailable");
            ApiError::Unavailable("rate limit unknown".into())
        })?;
    if count > u64::from(limit) {
        let retry_after_secs = u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60);
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    Ok(())
}

/// The scope rule: `gatehouse:admin` for everything, `gatehouse:admin:read` for reads.
fn allows(scopes: &str, method: &Method) -> bool {
    let has = |wanted: &str| scopes.split(' ').any(|s| s == wanted);
    has(ADMIN_SCOPE) || (has(READ_SCOPE) && (method == Method::GET || method == Method::HEAD))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_scope_allows_reads_only() {
        assert!(allows("gatehouse:admin:read", &Method::GET));
        assert!(!allows("gatehouse:admin:read", &Method::POST));
        assert!(!allows("gatehouse:admin:read", &Method::DELETE));
        assert!(allows("openid gatehouse:admin", &Method::DELETE));
        assert!(!allows("gatehouse:administrator", &Method::GET));
        assert!(!allows("", &Method::GET));
    }
}
