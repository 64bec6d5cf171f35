//! Content negotiation (RFC 9110 §12.5.1): the API speaks JSON, labelled
//! `application/vnd.gatehouse.v1+json` when a caller asks for that, else `application/json`.
//! An `Accept` that admits neither (another vendor version included) is a 406.

use std::future::{Ready, ready};

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, dev::Payload};
use serde::Serialize;

use super::problem::ApiError;

pub const VENDOR_V1: &str = "application/vnd.gatehouse.v1+json";
const JSON: &str = "application/json";

/// The media type the response is labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    VendorV1,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON,
            Self::VendorV1 => VENDOR_V1,
        }
    }

    /// A response builder for `status` with this content type and `no-store`.
    pub fn respond(self, status: StatusCode) -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(status);
        builder
            .content_type(self.content_type())
            .insert_header((header::CACHE_CONTROL, "no-store"));
        builder
    }

    /// `body` as JSON with `status`.
    pub fn json<T: Serialize>(
        self,
        status: StatusCode,
        body: &T,
    ) -> Result<HttpResponse, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.into()))?;
        Ok(self.respond(status).body(bytes))
    }
}

impl FromRequest for Format {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let accept = req
            .headers()
            .get_all(header::ACCEPT)
            .map(|v| v.to_str().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",");
        ready(negotiate(&accept))
    }
}

/// The response format for an `Accept` header value (empty when absent).
pub fn negotiate(accept: &str) -> Result<Format, ApiError> {
    if accept.trim().is_empty() {
        return Ok(Format::Json);
    }
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',').filter(|r| !r.trim().is_empty()) {
        let (media, q) = parse_range(range);
        let format = match media.as_str() {
            VENDOR_V1 => Format::VendorV1,
            "*/*" | "application/*" | JSON | "application/problem+json" => Format::Json,
            _ => continue,
        };
        // Among equally preferred ranges, the explicit vendor type wins.
        let better = best.is_none_or(|(best_q, best_format)| {
            q > best_q || (q == best_q && format == Format::VendorV1 && best_format == Format::Json)
        });
        if q > 0.0 && better {
            best = Some((q, format));
        }
    }
    best.map(|(_, format)| format)
        .ok_or(ApiError::NotAcceptable)
}

/// `type/subtype` in lower case, and its `q` weight (1 when absent or unreadable).
fn parse_range(range: &str) -> (String, f32) {
    let mut parts = range.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let q = parts
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        .map_or(1.0, |(_, value)| value.trim().parse::<f32>().unwrap_or(1.0));
    (media, q.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_wildcards_are_answered_with_json() {
        for accept in [
            "",
            "*/*",
            "application/*",
            "application/json",
            "application/problem+json",
        ] {
            assert_eq!(negotiate(accept).unwrap(), Format::Json, "{accept}");
        }
        assert_eq!(
            negotiate("text/html, application/json;q=0.5").unwrap(),
            Format::Json
        );
    }

    #[test]
    fn the_vendor_type_is_honoured() {
        assert_eq!(negotiate(VENDOR_V1).unwrap(), Format::VendorV1);
        assert_eq!(
            negotiate("application/json, application/vnd.gatehouse.v1+json").unwrap(),
            Format::VendorV1
        );
        assert_eq!(
            negotiate("application/vnd.gatehouse.v1+json;q=0.2, application/json").unwrap(),
            Format::Json
        );
    }

    #[test]
    fn another_version_or_nothing_we_speak_is_not_acceptable() {
        for accept in [
            "application/vnd.gatehouse.v2+json",
            "text/html",
            "application/xml, text/*",
            "application/json;q=0",
        ] {
            assert!(
                matches!(negotiate(accept), Err(ApiError::NotAcceptable)),
                "{accept}"
            );
        }
    }
}
