//! The protocol endpoints: read the form, call one `oauth::` function, answer with `no-store`.

mod error;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::http::ClientAddress;
use crate::oauth::{self, FormRequest, MAX_FORM_BYTES, OAuthError};
use crate::state::AppState;

/// `POST /oauth2/token` (RFC 6749 §3.2).
pub async fn post_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    from: ClientAddress,
    body: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form = read_form(&req, body).await?;
    let response = oauth::token::exchange(&state, &form, from.ip(), state.clock.now()).await?;
    Ok(no_store_json(&response))
}

/// `POST /oauth2/introspect` (RFC 7662 §2).
pub async fn post_introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    from: ClientAddress,
    body: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form = read_form(&req, body).await?;
    let response =
        oauth::introspect::introspect(&state, &form, from.ip(), state.clock.now()).await?;
    Ok(no_store_json(&response))
}

/// `POST /oauth2/revoke` (RFC 7009 §2).
pub async fn post_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    from: ClientAddress,
    body: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let form = read_form(&req, body).await?;
    oauth::revoke::revoke(&state, &form, from.ip(), state.clock.now()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .finish())
}

/// `GET|POST /oauth2/userinfo` (OIDC Core §5.3): the bearer token in the `Authorization`
/// header, or in a form body (RFC 6750 §2.2), not both.
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let form_token = if req.method() == actix_web::http::Method::POST
        && req.headers().get(header::CONTENT_TYPE).is_some_and(|ct| {
            ct.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        }) {
        read_form_with(&req, body, None)
            .await?
            .get("access_token")
            .map(str::to_owned)
    } else {
        None
    };
    if header_token.is_some() && form_token.is_some() {
        return Err(OAuthError::invalid_request(
            "send the access token in one place only",
        ));
    }
    let Some(token) = header_token.or(form_token) else {
        // RFC 6750 §3.1: a request with no credentials gets the challenge, no error code.
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="gatehouse""#))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(serde_json::json!({})));
    };
    let token = Some(token);
    let claims = oauth::userinfo::userinfo(&state, token.as_deref(), state.clock.now()).await?;
    Ok(no_store_json(&claims))
}

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
/// The document built at start: no database read, so it answers while the database is down.
pub async fn get_discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.discovery.clone())
}

fn no_store_json<T: Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// Reads at most `MAX_FORM_BYTES` of body, so an oversized request is an OAuth error (with
/// status 413, set by `http::limits`), and parses it as a protocol form.
async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<FormRequest, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    read_form_with(req, payload, authorization).await
}

/// As [`read_form`], with the client credentials of `authorization` (none for a resource
/// request, whose `Authorization` header is a bearer token or nothing of ours).
async fn read_form_with(
    req: &HttpRequest,
    mut payload: web::Payload,
    authorization: Option<&str>,
) -> Result<FormRequest, OAuthError> {
    let header_str = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let too_large = || OAuthError::invalid_request("the request body is too large");
        let chunk = chunk.map_err(|error| match error {
            // `http::limits` answers it with 413.
            actix_web::error::PayloadError::Overflow => too_large(),
            _ => OAuthError::invalid_request("the request body could not be read"),
        })?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    FormRequest::parse(header_str(header::CONTENT_TYPE), authorization, &body)
}
