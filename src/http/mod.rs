//! HTTP: the routes table and thin handlers (extract, call one function, map the result).
//! Every path here is described in `openapi.yaml`.

mod health;
mod jwks;
mod metrics;
mod middleware;

use actix_web::web;

pub use self::middleware::{observe_request, set_request_id_header};

/// Every route of the service, in one table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::get_healthz))
        .route("/readyz", web::get().to(health::get_readyz))
        .route("/metrics", web::get().to(metrics::get_metrics))
        .route("/.well-known/jwks.json", web::get().to(jwks::get_jwks));
}
