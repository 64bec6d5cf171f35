//! Optimistic concurrency (RFC 9110 §8.8.3, §13.1.1, RFC 6585 §3): every record carries a
//! strong `ETag` of its version, and a change must name the version it was based on.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::negotiate::Format;
use super::problem::ApiError;

/// The strong entity tag of a record's version: `"3"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A single record: 200 with its `ETag`.
pub fn record<T: Serialize>(
    format: Format,
    body: &T,
    version: i64,
) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(format
        .respond(StatusCode::OK)
        .insert_header((header::ETAG, etag(version)))
        .body(bytes))
}

/// The version a `PUT`, `PATCH` or `DELETE` expects: `None` for `If-Match: *`. Without the
/// header, 428; with tags that cannot be ours, 412.
pub fn expected_version(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if values.is_empty() {
        return Err(ApiError::PreconditionRequired);
    }
    parse_if_match(&values.join(","))
}

fn parse_if_match(value: &str) -> Result<Option<i64>, ApiError> {
    let tags: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tags.contains(&"*") {
        return Ok(None);
    }
    // If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches, and only the
    // exact string Gatehouse issued does: `"+3"`, `" 3"` or `"03"` are not `"3"`.
    let versions: Vec<i64> = tags
        .iter()
        .filter_map(|t| {
            let version: i64 = t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()?;
            (etag(version) == *t).then_some(version)
        })
        .collect();
    match versions.as_slice() {
        [version] => Ok(Some(*version)),
        [] => Err(ApiError::PreconditionFailed(
            "If-Match names no version of this resource".into(),
        )),
        _ => Err(ApiError::PreconditionFailed(
            "If-Match names several versions; send the current ETag only".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_names_one_version_or_any() {
        assert_eq!(parse_if_match("\"3\"").unwrap(), Some(3));
        assert_eq!(parse_if_match(" \"12\" ").unwrap(), Some(12));
        assert_eq!(parse_if_match("*").unwrap(), None);
        for foreign in [
            "W/\"3\"",
            "3",
            "\"abc\"",
            "",
            "\"1\", \"2\"",
            "\"+3\"",
            "\"03\"",
            "\" 3\"",
            "\"3 \"",
            "\"-0\"",
        ] {
            assert!(
                matches!(
                    parse_if_match(foreign),
                    Err(ApiError::PreconditionFailed(_))
                ),
                "{foreign}"
            );
        }
    }

    #[test]
    fn the_etag_quotes_the_version() {
        assert_eq!(etag(7), "\"7\"");
    }
}
