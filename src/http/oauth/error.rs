//! How a protocol error becomes a response (RFC 6749 §5.2): a JSON body with `error` and
//! `error_description`, never cached.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::oauth::{ErrorCode, OAuthError, RETRY_AFTER_SECS};

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        if self.throttled_for_secs.is_some() {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        match self.code {
            _ if self.throttled_for_secs.is_some() => {}
            ErrorCode::ServerError => {
                tracing::error!(error.cause_chain = ?self, "request failed");
            }
            ErrorCode::TemporarilyUnavailable => {
                tracing::warn!(error.cause_chain = ?self, "request failed: a backend is unavailable");
            }
            // A flood of wrong secrets must not flood the log: it is counted instead
            // (gatehouse_client_auth_failures_total), and the access line remains.
            ErrorCode::InvalidClient => tracing::debug!(error = %self, "request refused"),
            _ => tracing::info!(error = %self, "request refused"),
        }
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.code == ErrorCode::InvalidClient && self.basic_auth_attempted {
            response.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="gatehouse""#));
        }
        if matches!(
            self.code,
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope
        ) {
            // RFC 6750 §3: the challenge names the error; quotes cannot occur in our texts.
            let mut challenge = format!(
                r#"Bearer realm="gatehouse", error="{}""#,
                self.code.as_str()
            );
            if let Some(description) = self.public_description() {
                challenge.push_str(&format!(
                    r#", error_description="{}""#,
                    description.replace('"', "'")
                ));
            }
            if self.code == ErrorCode::InsufficientScope {
                challenge.push_str(r#", scope="openid""#);
            }
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some(secs) = self.throttled_for_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        } else if self.code == ErrorCode::TemporarilyUnavailable {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        let mut body = json!({"error": self.code.as_str()});
        if let Some(description) = self.public_description() {
            body["error_description"] = json!(description);
        }
        response.json(body)
    }
}
