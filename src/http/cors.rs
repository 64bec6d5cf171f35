//! Cross-origin requests (the Fetch standard's CORS protocol) for browser apps: a public
//! client (a single-page app using PKCE) calls the token, userinfo, introspection and
//! revocation endpoints from its own origin, and anyone may read the public documents.
//!
//! Wrapped on those resources only: the pages, `/interaction`, `/oauth2/authorize` and `/v1`
//! answer no cross-origin request. No response ever carries
//! `Access-Control-Allow-Credentials`: these endpoints authenticate by header or body, never by
//! cookie, so a browser must not send its cookies along.
//!
//! A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, before the
//! resource's routes; a plain `OPTIONS` still gets 405 with `Allow`.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};

use crate::current::Current;
use crate::domain::WebOrigin;
use crate::state::AppState;

/// How long a browser may cache a preflight's answer. Short, so a client deleted or made
/// confidential loses its origin's preflights soon after; browsers cap it anyway (Chromium at
/// two hours).
pub const PREFLIGHT_MAX_AGE_SECS: usize = 600;

/// The client endpoints, callable with `methods` from the redirect origins of enabled public
/// clients (`current`) and `server.cors_allowed_origins`; any other origin gets no
/// `Access-Control-Allow-Origin`, and its preflight is refused (400).
pub fn for_clients(state: &AppState, methods: &[Method]) -> Cors {
    let configured: Arc<[WebOrigin]> = state.settings.server.cors_allowed_origins.clone().into();
    let current: Arc<Current> = Arc::clone(&state.current);
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            let Ok(origin) = origin.to_str() else {
                return false;
            };
            configured.iter().any(|o| o.as_str() == origin) || current.origins.allows(origin)
        })
        .allowed_methods(methods.iter().cloned())
        // `DPoP` joins these when sender-constrained tokens do (RFC 9449 §4.1).
        .allowed_headers([AUTHORIZATION, CONTENT_TYPE])
        // An app reads the challenge of a 401 (RFC 6750 §3) and when to retry a 429 or 503.
        .expose_headers([WWW_AUTHENTICATE, RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE_SECS)
}

/// The discovery documents and the JWKS: public, the same for everyone and read with no
/// credential, so any origin may read them (`Access-Control-Allow-Origin: *`, as the large
/// providers answer): a browser app must fetch them before it is anyone's client, and `*`
/// forbids credentials by itself (Fetch standard, CORS check).
pub fn for_anyone() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods([Method::GET])
        .allow_any_header()
        .max_age(PREFLIGHT_MAX_AGE_SECS)
}
