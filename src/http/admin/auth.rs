//! Who is calling: a bearer access token issued by this Gatehouse (RFC 6750 §2.1), live and not
//! revoked, carrying `gatehouse:admin` (any request) or `gatehouse:admin:read` (GET only).

use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::problem::ApiError;
use crate::crypto::sha256_hex;
use crate::oauth::tokens::{TokenRejection, ensure_not_revoked, verify_access_token};
use crate::state::AppState;

use crate::admin::clients::{ADMIN_READ_SCOPE as READ_SCOPE, ADMIN_SCOPE};

/// The authenticated caller: the `client_id` of its token, recorded as the actor of changes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
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
    within_rate_limit(state, &claims.client_id).await?;
    Ok(Caller {
        client_id: claims.client_id,
    })
}

/// At most `admin.requests_per_minute` requests per caller and clock minute, counted in the
/// ephemeral store, so every instance sharing a Redis counts together.
async fn within_rate_limit(state: &AppState, client_id: &str) -> Result<(), ApiError> {
    let limit = state.settings.admin.requests_per_minute;
    let now = state.clock.now().unix_timestamp();
    let window = now.div_euclid(60);
    let key = format!(
        "ratelimit:admin:{}:{window}",
        sha256_hex(client_id.as_bytes())
    );
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
