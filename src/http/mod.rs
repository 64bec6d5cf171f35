//! HTTP: the routes table and thin handlers (extract, call one function, map the result).
//! Every path here is described in `openapi.yaml`.

mod health;
mod jwks;
mod metrics;
mod middleware;
mod oauth;
mod pages;

use actix_web::web;

pub use self::middleware::{observe_request, set_request_id_header};

/// The paths of the protocol endpoints, also used to build their absolute URLs.
pub mod paths {
    pub const AUTHORIZE: &str = "/oauth2/authorize";
    pub const TOKEN: &str = "/oauth2/token";
    pub const USERINFO: &str = "/oauth2/userinfo";
    pub const END_SESSION: &str = "/oauth2/logout";
    pub const END_SESSION_CONFIRM: &str = "/oauth2/logout/confirm";
    pub const INTROSPECT: &str = "/oauth2/introspect";
    pub const REVOKE: &str = "/oauth2/revoke";
    pub const JWKS: &str = "/.well-known/jwks.json";
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const OPENID_METADATA: &str = "/.well-known/openid-configuration";
}

/// Every route of the service, in one table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::get_healthz))
        .route("/readyz", web::get().to(health::get_readyz))
        .route("/metrics", web::get().to(metrics::get_metrics))
        .route(paths::JWKS, web::get().to(jwks::get_jwks))
        .route(paths::OAUTH_METADATA, web::get().to(oauth::get_discovery))
        .route(paths::OPENID_METADATA, web::get().to(oauth::get_discovery))
        .route(paths::TOKEN, web::post().to(oauth::post_token))
        .route(paths::INTROSPECT, web::post().to(oauth::post_introspect))
        .route(paths::REVOKE, web::post().to(oauth::post_revoke))
        .route(paths::USERINFO, web::get().to(oauth::userinfo))
        .route(paths::USERINFO, web::post().to(oauth::userinfo))
        .route(paths::AUTHORIZE, web::get().to(pages::get_authorize))
        .route(paths::AUTHORIZE, web::post().to(pages::post_authorize))
        .route(paths::END_SESSION, web::get().to(pages::get_end_session))
        .route(paths::END_SESSION, web::post().to(pages::post_end_session))
        .route(
            paths::END_SESSION_CONFIRM,
            web::post().to(pages::post_confirm_logout),
        )
        .route("/interaction/{id}/login", web::post().to(pages::post_login))
        .route(
            "/interaction/{id}/consent",
            web::post().to(pages::post_consent),
        )
        .route(
            "/assets/gatehouse.css",
            web::get().to(pages::get_stylesheet),
        );
}
