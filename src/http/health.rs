use std::fmt::Display;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// Bounds each readiness check even if a backend's own timeout is configured longer.
const CHECK_LIMIT: Duration = Duration::from_secs(3);

/// Liveness: the process serves HTTP. Checks nothing else, so a slow database never gets a
/// healthy process restarted.
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"status": "ok"}))
}

/// Readiness: 200 only when the database and the ephemeral store answer; the body names each
/// check. Causes go to the log, not to the body (they may name hosts or users).
pub async fn get_readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database_ok, ephemeral_ok) = tokio::join!(
        probe("database", state.db.ping()),
        probe("ephemeral", state.ephemeral.ping()),
    );
    let ready = database_ok && ephemeral_ok;
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": {
            "database": {"status": status(database_ok), "backend": state.db.backend()},
            "ephemeral": {"status": status(ephemeral_ok), "backend": state.ephemeral.backend()},
        }
    });
    let mut response = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

async fn probe<E: Display>(check: &str, ping: impl Future<Output = Result<(), E>>) -> bool {
    match tokio::time::timeout(CHECK_LIMIT, ping).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(check, %error, "readiness check failed");
            false
        }
        Err(_) => {
            tracing::warn!(check, "readiness check timed out");
            false
        }
    }
}

fn status(ok: bool) -> &'static str {
    if ok { "ok" } else { "unavailable" }
}
