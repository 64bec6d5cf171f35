use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Prometheus scrape endpoint (OpenMetrics text format).
pub async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(body),
        Err(error) => {
            tracing::error!(%error, "rendering metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
