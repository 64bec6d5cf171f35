//! The root span of every request (the fields on each of its log lines). It replaces
//! `tracing-actix-web`'s default, which takes `http.client_ip`, host and scheme from
//! `X-Forwarded-*` headers anyone can send and logs the full query string, `id_token_hint`
//! ID tokens, codes and `state` included.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage as _};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use super::client_address::client_address;

/// Query parameters whose values say what was asked without granting anything; every other
/// value is logged as `redacted`.
const LOGGED_PARAMETERS: &[&str] = &[
    "response_type",
    "response_mode",
    "scope",
    "client_id",
    "redirect_uri",
    "post_logout_redirect_uri",
    "prompt",
    "max_age",
    "display",
    "ui_locales",
    "acr_values",
    "code_challenge_method",
    "grant_type",
    "error",
    "limit",
];

/// The longest target, user agent and parameter name logged.
const MAX_TARGET: usize = 1024;
const MAX_USER_AGENT: usize = 256;
const MAX_NAME: usize = 32;

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = route.as_deref().unwrap_or("unmatched"),
            http.client_ip = %client_address(request.request()),
            http.user_agent = truncated(user_agent, MAX_USER_AGENT),
            http.target = %redacted_target(request.path(), request.query_string()),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

fn truncated(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `path?query` with every value outside [`LOGGED_PARAMETERS`] replaced by `redacted`, and
/// names that do not look like parameter names too.
fn redacted_target(path: &str, query: &str) -> String {
    let mut target = truncated(path, MAX_TARGET).to_owned();
    if query.is_empty() {
        return target;
    }
    let pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let plain_name = name.len() <= MAX_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !plain_name {
                "redacted".to_owned()
            } else if LOGGED_PARAMETERS.contains(&name) {
                format!("{name}={value}")
            } else {
                format!("{name}=redacted")
            }
        })
        .collect();
    target.push('?');
    target.push_str(&pairs.join("&"));
    truncated(&target, MAX_TARGET).to_owned()
}

#[cfg(test)]
mod tests {
    use super::redacted_target;

    #[test]
    fn only_allowed_parameter_values_are_logged() {
        let target = redacted_target(
            "/oauth2/logout",
            "id_token_hint=eyJhbGciOi.eyJzdWIi.c2ln&post_logout_redirect_uri=https%3A%2F%2Fapp&state=s3cr3t",
        );
        assert_eq!(
            target,
            "/oauth2/logout?id_token_hint=redacted&post_logout_redirect_uri=https%3A%2F%2Fapp&state=redacted"
        );
    }

    #[test]
    fn odd_names_and_bare_values_are_redacted_too() {
        assert_eq!(
            redacted_target("/x", "eyJhbGciOiJFUzI1NiJ9.payload.signature&scope=openid"),
            "/x?redacted&scope=openid"
        );
        assert_eq!(redacted_target("/x", ""), "/x");
    }

    #[test]
    fn long_targets_are_cut() {
        let query = format!("scope={}", "a".repeat(5000));
        assert_eq!(redacted_target("/x", &query).len(), super::MAX_TARGET);
    }
}
