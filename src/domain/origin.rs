//! Web origins (RFC 6454): what a browser names in the `Origin` header of a cross-origin
//! request, and what CORS allows.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use super::RedirectUri;

/// A web origin, `scheme://host[:port]` with an `http` or `https` scheme, in its ASCII
/// serialization (RFC 6454 §6.2: lowercase host, punycode, no default port): the form browsers
/// send in `Origin`, so comparing strings compares origins.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebOrigin(String);

impl WebOrigin {
    /// An origin as configured: a URL with nothing after the authority (a trailing `/` is
    /// tolerated). `*` is refused: the endpoints it would open take credentials.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "*" {
            return Err("`*` is not accepted: list each origin (scheme://host[:port])".into());
        }
        let url =
            Url::parse(s).map_err(|e| format!("not an origin (scheme://host[:port]): {e}"))?;
        if url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(
                "an origin is scheme://host[:port] with no path, query or credentials".into(),
            );
        }
        Self::of(&url).ok_or_else(|| "an origin has an http or https scheme and a host".into())
    }

    /// The origin of `url`, when it has one a browser would send (`http` or `https`).
    fn of(url: &Url) -> Option<Self> {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let origin = url.origin();
        origin
            .is_tuple()
            .then(|| Self(origin.ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RedirectUri {
    /// The web origin of this redirect URI; `None` for a native app's private-use scheme
    /// (RFC 8252 §7.1), which no browser page has.
    pub fn web_origin(&self) -> Option<WebOrigin> {
        Url::parse(self.as_str())
            .ok()
            .as_ref()
            .and_then(WebOrigin::of)
    }
}

impl TryFrom<String> for WebOrigin {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<WebOrigin> for String {
    fn from(origin: WebOrigin) -> Self {
        origin.0
    }
}

impl fmt::Display for WebOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Result<String, String> {
        WebOrigin::parse(s).map(String::from)
    }

    #[test]
    fn a_configured_origin_is_normalized_to_what_browsers_send() {
        assert_eq!(
            parsed("https://App.Example.com"),
            Ok("https://app.example.com".into())
        );
        assert_eq!(
            parsed("https://app.example.com:443/"),
            Ok("https://app.example.com".into())
        );
        assert_eq!(
            parsed("http://localhost:3000"),
            Ok("http://localhost:3000".into())
        );
    }

    #[test]
    fn anything_but_a_bare_origin_is_refused() {
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/callback",
            "https://app.example.com/?a=b",
            "https://app.example.com#x",
            "https://user@app.example.com",
            "ftp://app.example.com",
            "com.example.app:/callback",
            "null",
        ] {
            assert!(WebOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_redirect_uri_has_a_web_origin_unless_it_is_a_native_scheme() {
        let origin = |uri: &str| {
            RedirectUri::parse(uri)
                .unwrap()
                .web_origin()
                .map(String::from)
        };
        assert_eq!(
            origin("https://spa.example.com/callback?x=1").as_deref(),
            Some("https://spa.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:5173/cb").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        assert_eq!(origin("com.example.app:/callback"), None);
    }
}
