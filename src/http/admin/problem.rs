//! How an admin API error becomes a response: `application/problem+json` (RFC 9457) with
//! `type`, `title`, `status`, `detail` and, for validation, `errors`. One `ResponseError` impl.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::admin::{AdminError, FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every way an admin request can fail. Causes of 5xx answers stay in the log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or a header does not parse.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 401: no bearer token (`token_sent: false`), or one that is not a live token of ours.
    #[error("missing or invalid access token")]
    InvalidToken { token_sent: bool },
    /// 403: the token lacks the scope this request needs.
    #[error("insufficient scope")]
    InsufficientScope,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("not acceptable")]
    NotAcceptable,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// 413: the body exceeds [`super::body::MAX_BODY_BYTES`].
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 422 with the field errors.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,
    #[error("If-Match required")]
    PreconditionRequired,
    /// 429 with `Retry-After`: the caller used up its requests for this minute.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 503 with `Retry-After`: a backend needed for a safe answer is busy or down.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// 500; the cause is logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// One field error as a 422.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.into(),
            problem: problem.into(),
        }])
    }

    /// The `type` slug (`None` for `about:blank`), title and public detail.
    fn describe(&self) -> (Option<&'static str>, &'static str, String) {
        match self {
            Self::Malformed(detail) => (
                Some("malformed-request"),
                "Malformed request",
                detail.clone(),
            ),
            Self::InvalidToken { token_sent: false } => (
                Some("invalid-token"),
                "Unauthorized",
                "this endpoint needs a bearer access token".into(),
            ),
            Self::InvalidToken { token_sent: true } => (
                Some("invalid-token"),
                "Unauthorized",
                "the access token is invalid, expired or revoked".into(),
            ),
            Self::InsufficientScope => (
                Some("insufficient-scope"),
                "Forbidden",
                "the access token does not carry the scope this request needs".into(),
            ),
            Self::NotFound => (Some("not-found"), "Not found", "no such resource".into()),
            Self::MethodNotAllowed => (
                None,
                "Method Not Allowed",
                "this resource does not support that method".into(),
            ),
            Self::NotAcceptable => (
                Some("not-acceptable"),
                "Not acceptable",
                "this API answers application/json or application/vnd.gatehouse.v1+json".into(),
            ),
            Self::Conflict(detail) => (Some("conflict"), "Conflict", detail.clone()),
            Self::PreconditionFailed(detail) => (
                Some("precondition-failed"),
                "Precondition failed",
                detail.clone(),
            ),
            Self::PayloadTooLarge => (
                None,
                "Payload Too Large",
                format!(
                    "a request body has at most {} bytes",
                    super::body::MAX_BODY_BYTES
                ),
            ),
            Self::UnsupportedMediaType(detail) => (
                Some("unsupported-media-type"),
                "Unsupported media type",
                detail.clone(),
            ),
            Self::Invalid(errors) => (
                Some("validation-error"),
                "Validation failed",
                format!("{} field(s) failed validation", errors.len()),
            ),
            Self::IdempotencyKeyReused => (
                Some("idempotency-key-reused"),
                "Idempotency key reused",
                "this Idempotency-Key was used with a different request body".into(),
            ),
            Self::PreconditionRequired => (
                Some("precondition-required"),
                "Precondition required",
                "send If-Match with the resource's ETag (or *)".into(),
            ),
            Self::RateLimited { .. } => (
                Some("rate-limited"),
                "Too many requests",
                "this caller sent too many requests; retry after the time in Retry-After".into(),
            ),
            Self::Unavailable(_) => (
                None,
                "Service Unavailable",
                "the service is temporarily unavailable; retry shortly".into(),
            ),
            Self::Internal(_) => (
                Some("internal"),
                "Internal error",
                "the request failed; the cause was logged".into(),
            ),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Invalid(errors) => Self::Invalid(errors),
            AdminError::NotFound => Self::NotFound,
            AdminError::Conflict(detail) => Self::Conflict(detail),
            AdminError::PreconditionFailed => {
                Self::PreconditionFailed("the resource changed since that ETag".into())
            }
            AdminError::Unavailable => Self::Unavailable("the password hasher is busy".into()),
            AdminError::Store(error) if error.is_unavailable() => {
                Self::Unavailable(error.to_string())
            }
            error @ AdminError::Store(_) => Self::Internal(anyhow::Error::new(error)),
            AdminError::Internal(message) => Self::Internal(anyhow::anyhow!(message)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error.cause_chain = ?self, "admin request failed");
        } else {
            tracing::info!(error = %self, "admin request refused");
        }
        let (slug, title, detail) = self.describe();
        let mut body = json!({
            "type": slug.map_or_else(|| "about:blank".to_owned(), |s| format!("urn:gatehouse:problem:{s}")),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Self::Invalid(errors) = self {
            body["errors"] = json!(errors);
        }
        let mut response = HttpResponse::build(status);
        response
            .content_type(PROBLEM_JSON)
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::InvalidToken { token_sent } => {
                let mut challenge = r#"Bearer realm="gatehouse""#.to_owned();
                if *token_sent {
                    challenge.push_str(r#", error="invalid_token""#);
                }
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            Self::InsufficientScope => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="gatehouse", error="insufficient_scope", scope="gatehouse:admin""#,
                ));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, crate::oauth::RETRY_AFTER_SECS));
            }
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    fn body_of(error: ApiError) -> (u16, serde_json::Value) {
        let response = error.error_response();
        let status = response.status().as_u16();
        let bytes = response.into_body().try_into_bytes().unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn a_validation_problem_lists_its_fields() {
        let (status, body) = body_of(ApiError::invalid("redirect_uris[0]", "no fragment"));
        assert_eq!(status, 422);
        assert_eq!(body["type"], "urn:gatehouse:problem:validation-error");
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][0]["field"], "redirect_uris[0]");
    }

    #[test]
    fn an_internal_error_never_shows_its_cause() {
        let error = ApiError::from(AdminError::Internal("database password is hunter2".into()));
        let (status, body) = body_of(error);
        assert_eq!(status, 500);
        assert_eq!(body["type"], "urn:gatehouse:problem:internal");
        assert!(!body.to_string().contains("hunter2"));
        assert!(body.get("errors").is_none());
    }

    #[test]
    fn a_plain_status_problem_is_about_blank() {
        let (status, body) = body_of(ApiError::PayloadTooLarge);
        assert_eq!(status, 413);
        assert_eq!(body["type"], "about:blank");
    }
}
