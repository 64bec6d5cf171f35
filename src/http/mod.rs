//! HTTP: the routes table and thin handlers (extract, call one function, map the result).
//! Every path here is described in `openapi.yaml`.

mod admin;
pub mod client_address;
mod cors;
mod health;
mod jwks;
mod limits;
mod metrics;
mod middleware;
mod oauth;
mod openapi;
mod pages;
mod request_span;
mod testing;

use actix_web::http::Method;
use actix_web::web;

pub use self::client_address::{ClientAddress, carry_request_origin, resolve_client_address};
use crate::state::AppState;

pub use self::limits::bound_request_bodies;
pub use self::middleware::{
    observe_request, read_own_admin_changes, set_request_id_header, strict_transport_security,
};
pub use self::request_span::RequestSpan;

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
    /// Test mode only.
    pub const TESTING_TOKENS: &str = "/testing/tokens";
}

/// Every route of the service as (method, path), `/v1` included: `tests/api/openapi.rs` checks
/// that the router serves exactly these and that `openapi.yaml` describes exactly these.
/// `POST /testing/tokens` is routed in test mode only (`testing.enabled`); with
/// `server.management_bind` set, `/readyz` and `/metrics` are routed on that listener instead
/// of this one ([`operator_routes`]). CORS preflights (`OPTIONS` on the endpoints `cors` wraps)
/// are answered by that middleware, not routed, so they are not listed here (nor as operations
/// in `openapi.yaml`, which says so in prose).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.yaml"),
    ("GET", paths::JWKS),
    ("GET", paths::OAUTH_METADATA),
    ("GET", paths::OPENID_METADATA),
    ("POST", paths::TOKEN),
    ("POST", paths::INTROSPECT),
    ("POST", paths::REVOKE),
    ("GET", paths::USERINFO),
    ("POST", paths::USERINFO),
    ("GET", paths::AUTHORIZE),
    ("POST", paths::AUTHORIZE),
    ("GET", paths::END_SESSION),
    ("POST", paths::END_SESSION),
    ("POST", paths::END_SESSION_CONFIRM),
    ("POST", "/interaction/{id}/login"),
    ("POST", "/interaction/{id}/second-factor"),
    ("POST", "/interaction/{id}/passkey"),
    ("GET", "/account"),
    ("POST", "/account/totp"),
    ("POST", "/account/totp/confirm"),
    ("POST", "/account/totp/remove"),
    ("POST", "/account/recovery-codes"),
    ("POST", "/account/password"),
    ("POST", "/account/sign-out-everywhere"),
    ("POST", "/account/sessions/{handle}/end"),
    ("POST", "/account/passkeys"),
    ("POST", "/account/passkeys/{id}/rename"),
    ("POST", "/account/passkeys/{id}/remove"),
    ("POST", "/interaction/{id}/consent"),
    ("GET", "/assets/gatehouse.css"),
    ("GET", "/assets/passkey.js"),
    ("GET", "/v1/clients"),
    ("POST", "/v1/clients"),
    ("GET", "/v1/clients/{id}"),
    ("PUT", "/v1/clients/{id}"),
    ("PATCH", "/v1/clients/{id}"),
    ("DELETE", "/v1/clients/{id}"),
    ("POST", "/v1/clients/{id}/secret"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("GET", "/v1/users/{id}"),
    ("PUT", "/v1/users/{id}"),
    ("PATCH", "/v1/users/{id}"),
    ("DELETE", "/v1/users/{id}"),
    ("POST", "/v1/users/{id}/password"),
    ("POST", "/v1/users/{id}/sign-out"),
    ("GET", "/v1/users/{id}/factors"),
    ("DELETE", "/v1/users/{id}/factors"),
    ("GET", "/v1/audit-events"),
    ("PUT", "/v1/users/{id}/roles/{role}"),
    ("DELETE", "/v1/users/{id}/roles/{role}"),
    ("GET", "/v1/keys"),
    ("POST", "/v1/keys/rotate"),
    ("POST", "/v1/keys/{kid}/revoke"),
    ("GET", "/v1/grants"),
    ("DELETE", "/v1/grants/{id}"),
    ("POST", paths::TESTING_TOKENS),
];

/// Every route of the service, in one table. `state` gives CORS the origins it allows.
pub fn routes(cfg: &mut web::ServiceConfig, state: &AppState) {
    let clients = |methods: &[Method]| cors::for_clients(state, methods);
    cfg.service(healthz())
        .service(
            resource(paths::JWKS)
                .wrap(cors::for_anyone())
                .route(web::get().to(jwks::get_jwks)),
        )
        .service(
            resource(paths::OAUTH_METADATA)
                .wrap(cors::for_anyone())
                .route(web::get().to(oauth::get_discovery)),
        )
        .service(
            resource(paths::OPENID_METADATA)
                .wrap(cors::for_anyone())
                .route(web::get().to(oauth::get_discovery)),
        )
        .service(
            resource(paths::TOKEN)
                .wrap(clients(&[Method::POST]))
                .route(web::post().to(oauth::post_token)),
        )
        .service(
            resource(paths::INTROSPECT)
                .wrap(clients(&[Method::POST]))
                .route(web::post().to(oauth::post_introspect)),
        )
        .service(
            resource(paths::REVOKE)
                .wrap(clients(&[Method::POST]))
                .route(web::post().to(oauth::post_revoke)),
        )
        .service(
            resource(paths::USERINFO)
                .wrap(clients(&[Method::GET, Method::POST]))
                .route(web::get().to(oauth::userinfo))
                .route(web::post().to(oauth::userinfo)),
        )
        .service(
            resource(paths::AUTHORIZE)
                .route(web::get().to(pages::get_authorize))
                .route(web::post().to(pages::post_authorize)),
        )
        .service(
            resource(paths::END_SESSION)
                .route(web::get().to(pages::get_end_session))
                .route(web::post().to(pages::post_end_session)),
        )
        .service(
            resource(paths::END_SESSION_CONFIRM).route(web::post().to(pages::post_confirm_logout)),
        )
        .service(resource("/interaction/{id}/login").route(web::post().to(pages::post_login)))
        .service(
            resource("/interaction/{id}/second-factor")
                .route(web::post().to(pages::post_second_factor)),
        )
        .service(resource("/interaction/{id}/passkey").route(web::post().to(pages::post_passkey)))
        .service(resource("/account").route(web::get().to(pages::get_account)))
        .service(resource("/account/passkeys").route(web::post().to(pages::post_add_passkey)))
        .service(
            resource("/account/passkeys/{id}/rename")
                .route(web::post().to(pages::post_rename_passkey)),
        )
        .service(
            resource("/account/passkeys/{id}/remove")
                .route(web::post().to(pages::post_remove_passkey)),
        )
        .service(resource("/account/totp").route(web::post().to(pages::post_start_totp)))
        .service(resource("/account/totp/confirm").route(web::post().to(pages::post_confirm_totp)))
        .service(resource("/account/totp/remove").route(web::post().to(pages::post_remove_totp)))
        .service(
            resource("/account/recovery-codes").route(web::post().to(pages::post_recovery_codes)),
        )
        .service(resource("/account/password").route(web::post().to(pages::post_change_password)))
        .service(
            resource("/account/sign-out-everywhere")
                .route(web::post().to(pages::post_sign_out_everywhere)),
        )
        .service(
            resource("/account/sessions/{handle}/end")
                .route(web::post().to(pages::post_end_account_session)),
        )
        .service(resource("/interaction/{id}/consent").route(web::post().to(pages::post_consent)))
        .service(resource("/assets/gatehouse.css").route(web::get().to(pages::get_stylesheet)))
        .service(resource("/assets/passkey.js").route(web::get().to(pages::get_passkey_script)))
        .service(resource("/openapi.yaml").route(web::get().to(openapi::get_openapi)))
        .configure(admin::routes);
}

/// What operators probe and scrape beyond liveness: readiness (which costs a round trip to
/// each backend and names them) and the metrics. On the management listener when
/// `server.management_bind` is set, else with the other routes.
pub fn operator_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/readyz").route(web::get().to(health::get_readyz)))
        .service(resource("/metrics").route(web::get().to(metrics::get_metrics)));
}

/// Everything the management listener serves: liveness and [`operator_routes`].
pub fn management_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz()).configure(operator_routes);
}

/// Liveness, on every listener: it checks nothing and tells nothing.
fn healthz() -> actix_web::Resource {
    resource("/healthz").route(web::get().to(health::get_healthz))
}

/// The routes of test mode, registered only when `testing.enabled`: otherwise they are 404.
pub fn testing_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(paths::TESTING_TOKENS).route(web::post().to(testing::post_testing_tokens)),
    );
}

/// A path whose other methods answer 405 with `Allow` (RFC 9110 §15.5.6), not 404.
fn resource(path: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    let pattern = req.match_pattern();
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, path)| pattern.as_deref() == Some(*path))
        .map(|(method, _)| *method)
        .collect();
    actix_web::HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allowed.join(", ")))
        .finish()
}
