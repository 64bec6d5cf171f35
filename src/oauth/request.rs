//! A form-encoded protocol request (RFC 6749 §3.2, §2.3.1), checked before any decision:
//! the right media type, no repeated parameters, empty values treated as omitted (§3.1).

use std::collections::HashSet;

use base64::Engine as _;

use super::OAuthError;
use crate::crypto::PlainSecret;

/// The largest request body accepted at the protocol endpoints.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Parameters that may repeat: RFC 8707 §2 allows several `resource` values.
const REPEATABLE: &[&str] = &["resource"];

#[derive(Debug)]
pub struct FormRequest {
    params: Vec<(String, String)>,
    /// HTTP Basic credentials from the `Authorization` header, if any.
    pub basic: Option<BasicCredentials>,
}

/// `client_secret_basic` credentials (RFC 6749 §2.3.1).
pub struct BasicCredentials {
    pub client_id: String,
    pub secret: PlainSecret,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl FormRequest {
    /// Parses a POST body. `content_type` and `authorization` are the raw header values.
    pub fn parse(
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Self, OAuthError> {
        let basic = authorization.map(parse_basic).transpose()?.flatten();
        let media_type = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|mt| mt.trim().to_ascii_lowercase());
        if media_type.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .with_basic_auth_attempted(basic.is_some()));
        }
        if body.len() > MAX_FORM_BYTES {
            return Err(OAuthError::invalid_request("the request body is too large"));
        }
        let params =
            parse_params(body).map_err(|e| e.with_basic_auth_attempted(basic.is_some()))?;
        Ok(Self { params, basic })
    }

    /// Parses the query string of a GET request (the authorization endpoint).
    pub fn from_query(query: &str) -> Result<Self, OAuthError> {
        if query.len() > MAX_FORM_BYTES {
            return Err(OAuthError::invalid_request("the query is too large"));
        }
        Ok(Self {
            params: parse_params(query.as_bytes())?,
            basic: None,
        })
    }

    /// The value of a parameter that appears at most once.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("the parameter `{name}` is missing"))
                .with_basic_auth_attempted(self.basic.is_some())
        })
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs: empty values count as omitted
/// (RFC 6749 §3.1) and a repeated parameter is an error (§3.1, §3.2), even when one of its
/// values is empty: `scope=&scope=admin` is as ambiguous as two values.
fn parse_params(encoded: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if !REPEATABLE.contains(&name.as_ref()) && !seen.insert(name.to_string()) {
            // The name is the caller's text: never echoed (RFC 6749 §5.2).
            return Err(OAuthError::invalid_request(
                "a parameter is repeated (RFC 6749 section 3.1)",
            ));
        }
        if value.is_empty() {
            continue;
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`. Other schemes are not
/// client credentials here and are ignored; a malformed Basic header is `invalid_client`.
fn parse_basic(header: &str) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some((scheme, encoded)) = header.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || {
        OAuthError::invalid_client("malformed Basic credentials").with_basic_auth_attempted(true)
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some(BasicCredentials {
        client_id: unescape(id),
        secret: PlainSecret::from_presented(unescape(secret)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=UTF-8");

    #[test]
    fn repeated_parameters_are_refused_except_resource() {
        for body in [
            &b"grant_type=a&grant_type=b"[..],
            b"scope=&scope=admin",
            b"scope=admin&scope=",
            b"code=&code=",
        ] {
            let error = FormRequest::parse(FORM, None, body).unwrap_err();
            assert_eq!(error.code.as_str(), "invalid_request");
        }
        assert!(FormRequest::from_query("state=&state=x").is_err());
        let ok = FormRequest::parse(FORM, None, b"resource=https://a&resource=https://b").unwrap();
        assert_eq!(ok.get_all("resource"), ["https://a", "https://b"]);
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let form = FormRequest::parse(FORM, None, b"scope=&grant_type=x").unwrap();
        assert_eq!(form.get("scope"), None);
    }

    #[test]
    fn a_json_body_is_invalid_request() {
        let error = FormRequest::parse(Some("application/json"), None, b"{}").unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_request");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // id "a b%" and secret "p:w+" per RFC 6749 §2.3.1
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a+b%25:p%3Aw%2B")
        );
        let form = FormRequest::parse(FORM, Some(&header), b"").unwrap();
        let basic = form.basic.unwrap();
        assert_eq!(basic.client_id, "a b%");
        assert_eq!(basic.secret.expose(), "p:w+");
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        let error = FormRequest::parse(FORM, Some("Basic !!!"), b"").unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_client");
        assert!(error.basic_auth_attempted);
    }
}
