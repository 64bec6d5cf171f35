use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, web};
use tracing_actix_web::RequestId;

use super::ROUTES;
use crate::state::AppState;
use crate::telemetry::{HTTP_METHODS, OTHER_METHOD, UNMATCHED_ROUTE};

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Returns the request id that `TracingLogger` put on every log line of this request, so a
/// caller can quote it when reporting a problem.
pub async fn set_request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = request_id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    Ok(res)
}

/// `Strict-Transport-Security: max-age=N` (RFC 6797 §6.1) on every response, errors included,
/// when the issuer is https and `server.hsts_max_age_secs` is not 0. Never on a plain-http
/// issuer: a browser ignores it there (RFC 6797 §8.1), and it would only mislead.
pub async fn strict_transport_security(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let header = req.app_data::<web::Data<AppState>>().and_then(|state| {
        hsts_header(
            state.issuer.as_str(),
            state.settings.server.hsts_max_age_secs,
        )
    });
    // Handler and extractor errors reach here already turned into responses (actix-web).
    let mut res = next.call(req).await?;
    if let Some(value) = header {
        res.headers_mut().insert(STRICT_TRANSPORT_SECURITY, value);
    }
    Ok(res)
}

/// The HSTS header value for `issuer`, or `None` when it must not be sent.
fn hsts_header(issuer: &str, max_age_secs: u64) -> Option<HeaderValue> {
    if max_age_secs == 0 || !issuer.starts_with("https://") {
        return None;
    }
    HeaderValue::from_str(&format!("max-age={max_age_secs}")).ok()
}

/// After a change through the admin API, this instance reads the change feed before it
/// answers: what the caller revoked or changed holds here as soon as they hear back (other
/// instances follow within `cache.poll_interval_ms`).
pub async fn read_own_admin_changes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let changes = req.path().starts_with("/v1/")
        && !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if changes
        && res.status().is_success()
        && let Some(state) = state
        && let Err(error) = state.current.sync(state.clock.now()).await
    {
        tracing::warn!(%error, "could not read back the change feed after an admin change");
    }
    Ok(res)
}

/// Logs one short line per request (inside the request's span, so it carries the request id)
/// and counts requests and their latency by method, route pattern and status. The method and
/// the route are labels from fixed sets, never the caller's text: odd methods and unknown
/// paths cannot grow the metrics (or the log line).
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let route = route_label(res.request().match_pattern().as_deref());
    let status = res.status().as_u16();
    tracing::info!(
        method,
        route,
        status,
        // whole microseconds, so the line carries no float noise (0.41, not 0.41002200001)
        latency_ms = elapsed.as_micros() as f64 / 1000.0,
        "request completed"
    );
    if let Some(state) = state {
        state
            .metrics
            .observe_request(method, route, status, elapsed);
    }
    Ok(res)
}

/// One of the usual methods (RFC 9110 §9), or `other`.
fn method_label(method: &Method) -> &'static str {
    HTTP_METHODS
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or(OTHER_METHOD)
}

/// The route table's own copy of the matched pattern, or `unmatched`.
fn route_label(pattern: Option<&str>) -> &'static str {
    pattern
        .and_then(|pattern| ROUTES.iter().find(|(_, path)| *path == pattern))
        .map_or(UNMATCHED_ROUTE, |(_, path)| path)
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;

    use super::{hsts_header, method_label, route_label};

    #[test]
    fn hsts_only_for_an_https_issuer_and_a_positive_max_age() {
        assert_eq!(
            hsts_header("https://id.example.com", 31_536_000)
                .as_ref()
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000")
        );
        assert!(hsts_header("http://127.0.0.1:8080", 31_536_000).is_none());
        assert!(hsts_header("https://id.example.com", 0).is_none());
    }

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::TRACE), "other");
        let odd = Method::from_bytes(b"FOO1").unwrap_or(Method::CONNECT);
        assert_eq!(method_label(&odd), "other");
        assert_eq!(route_label(Some("/v1/clients/{id}")), "/v1/clients/{id}");
        assert_eq!(route_label(Some("/not/a/route")), "unmatched");
        assert_eq!(route_label(None), "unmatched");
    }
}
