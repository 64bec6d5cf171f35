//! Reading JSON request bodies: the media type (415), the size (413), the syntax (400
//! `malformed-request`) and the shape (422 `validation-error` naming the field), so a handler
//! only ever sees a typed request.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::ApiError;

/// The largest body the admin API reads: far above any valid record, small enough to refuse
/// a flood before parsing it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `POST` and `PUT` bodies.
pub const JSON: &[&str] = &["application/json"];
/// `PATCH` bodies (RFC 7396); plain JSON is taken as the same thing.
pub const MERGE_PATCH: &[&str] = &["application/merge-patch+json", "application/json"];

/// The raw body, checked against the accepted media types; `None` when there is none at all.
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    accepted: &[&str],
) -> Result<Option<web::Bytes>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| match error {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge,
            _ => ApiError::Malformed("the request body could not be read".into()),
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let content_type = req.headers().get(header::CONTENT_TYPE);
    if body.is_empty() && content_type.is_none() {
        return Ok(None);
    }
    check_media_type(content_type.and_then(|v| v.to_str().ok()), accepted)?;
    Ok(Some(body.freeze()))
}

/// A required JSON body, parsed into `T`.
pub async fn json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    accepted: &[&str],
) -> Result<(T, web::Bytes), ApiError> {
    let Some(bytes) = read(req, payload, accepted).await? else {
        check_media_type(None, accepted)?;
        return Err(ApiError::Malformed("a JSON body is required".into()));
    };
    Ok((parse(&bytes)?, bytes))
}

/// An optional JSON body: absent or empty means `T::default()`.
pub async fn optional_json<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    match read(req, payload, JSON).await? {
        Some(bytes) if !bytes.is_empty() => parse(&bytes),
        _ => Ok(T::default()),
    }
}

fn check_media_type(content_type: Option<&str>, accepted: &[&str]) -> Result<(), ApiError> {
    let refuse =
        || ApiError::UnsupportedMediaType(format!("send the body as {}", accepted.join(" or ")));
    let content_type = content_type.ok_or_else(refuse)?;
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if !accepted.contains(&essence.as_str()) {
        return Err(refuse());
    }
    // JSON is UTF-8 (RFC 8259 §8.1); a declared charset must say so.
    let charset_ok = parts
        .filter_map(|p| p.split_once('='))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .all(|(_, value)| value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8"));
    if charset_ok { Ok(()) } else { Err(refuse()) }
}

/// Parses JSON text into `T`: a syntax error is a 400; anything but an object, or a shape
/// error, a 422 naming the field. (serde would take an array for a struct: not here.)
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Malformed(format!(
            "the body is not valid JSON: {}",
            public_message(&e)
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("<body>", "must be a JSON object"));
    }
    // RFC 8259 §4: names SHOULD be unique, and with a repeated one "the behavior of software
    // that receives such an object is unpredictable". serde keeps the last; refuse the body as
    // malformed (400: no reading of it is the sender's), naming the member.
    if let Some(path) = first_duplicate_key(bytes) {
        return Err(ApiError::Malformed(format!(
            "the member `{path}` is given more than once"
        )));
    }
    from_value(value)
}

/// The path (`name`, `claims.team`, `<body>` for nothing better) of the first object member
/// whose name repeats an earlier one in the same object, if any. The text is valid JSON here.
fn first_duplicate_key(bytes: &[u8]) -> Option<String> {
    use serde::Deserializer as _;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer
        .deserialize_any(DuplicateFinder {
            path: String::new(),
        })
        .unwrap_or_default()
}

/// Walks a JSON value and stops at the first repeated member name.
struct DuplicateFinder {
    path: String,
}

impl<'de> serde::de::DeserializeSeed<'de> for DuplicateFinder {
    type Value = Option<String>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DuplicateFinder {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0usize;
        let mut found = None;
        while let Some(inner) = seq.next_element_seed(DuplicateFinder {
            path: format!("{}[{index}]", self.path),
        })? {
            found = found.or(inner);
            index += 1;
        }
        Ok(found)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        let mut found = None;
        while let Some(name) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                name.clone()
            } else {
                format!("{}.{name}", self.path)
            };
            if !seen.insert(name) && found.is_none() {
                found = Some(path.clone());
            }
            let inner = map.next_value_seed(DuplicateFinder { path })?;
            found = found.or(inner);
        }
        Ok(found)
    }
}

/// Converts an already parsed JSON value into `T` (422 naming the field on a mismatch).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(shape_error)
}

fn shape_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = field_path(error.path());
    let message = public_message(error.inner());
    let named = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        rest.split('`').next().map(str::to_owned)
    };
    if let Some(field) = named("unknown field `") {
        return ApiError::invalid(join(&path, &field), "unknown field");
    }
    if let Some(field) = named("missing field `") {
        return ApiError::invalid(join(&path, &field), "is required");
    }
    let field = if path.is_empty() {
        "<body>".to_owned()
    } else {
        path
    };
    ApiError::invalid(field, message)
}

/// `redirect_uris[0]`, `claims.team`: the contract's way of naming a field.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// `parent.field`, unless the path already ends at `field`.
fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else if path == field || path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn public_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Request {
        name: String,
        #[serde(default)]
        public: bool,
        #[serde(default)]
        uris: Vec<String>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        ttl: Option<u32>,
    }

    fn field_of(body: &str) -> (String, String) {
        match parse::<Request>(body.as_bytes()) {
            Err(ApiError::Invalid(errors)) => (errors[0].field.clone(), errors[0].problem.clone()),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(field_of(r#"{"name": "a", "colour": 1}"#).0, "colour");
        assert_eq!(field_of(r#"{"public": true}"#).0, "name");
        assert_eq!(field_of(r#"{"name": "a", "public": "yes"}"#).0, "public");
        assert_eq!(field_of(r#"{"name": "a", "uris": ["x", 3]}"#).0, "uris[1]");
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {"ttl": -1}}"#).0,
            "inner.ttl"
        );
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {"nope": 1}}"#).0,
            "inner.nope"
        );
        assert_eq!(field_of(r#"["a"]"#).0, "<body>");
        assert_eq!(field_of("3").0, "<body>");
        assert!(
            !field_of(r#"{"name": "a", "public": "yes"}"#)
                .1
                .contains("line")
        );
    }

    #[test]
    fn a_repeated_member_name_is_malformed_and_named() {
        let duplicate = |body: &str| match parse::<Request>(body.as_bytes()) {
            Err(ApiError::Malformed(detail)) => detail,
            other => panic!("expected a 400, got {other:?}"),
        };
        assert_eq!(
            duplicate(r#"{"name": "a", "name": "b"}"#),
            "the member `name` is given more than once"
        );
        assert!(
            duplicate(r#"{"name": "a", "inner": {"ttl": 1, "ttl": 2}}"#).contains("`inner.ttl`")
        );
        assert!(duplicate(r#"{"name": "a", "uris": [{"x": 1, "x": 1}]}"#).contains("`uris[0].x`"));
        assert!(parse::<Request>(br#"{"name": "a", "inner": {"ttl": 1}}"#).is_ok());
    }

    #[test]
    fn syntax_errors_are_malformed() {
        for body in [
            r#"{"name": "a""#,
            "{",
            "",
            r#"{"name": "a"} trailing"#,
            "nope",
        ] {
            assert!(
                matches!(
                    parse::<Request>(body.as_bytes()),
                    Err(ApiError::Malformed(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn only_the_accepted_media_types_pass() {
        assert!(check_media_type(Some("application/json"), JSON).is_ok());
        assert!(check_media_type(Some("Application/JSON; charset=UTF-8"), JSON).is_ok());
        assert!(check_media_type(Some("application/merge-patch+json"), MERGE_PATCH).is_ok());
        assert!(check_media_type(Some("application/merge-patch+json"), JSON).is_err());
        assert!(check_media_type(Some("text/plain"), JSON).is_err());
        assert!(check_media_type(Some("application/json; charset=latin1"), JSON).is_err());
        assert!(check_media_type(None, JSON).is_err());
    }
}
