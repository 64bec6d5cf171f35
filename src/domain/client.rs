//! OAuth clients (RFC 6749 §2) and the values that describe them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::ScopeSet;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)*
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }

            pub fn parse(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)*
                    other => Err(format!(
                        "`{other}` is not one of: {}",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s)
            }
        }
    };
}

string_enum!(
    /// RFC 6749 §2.1.
    ClientType { Confidential = "confidential", Public = "public" }
);

string_enum!(
    /// The grant types Gatehouse implements (RFC 6749 §4, §6).
    GrantType {
        AuthorizationCode = "authorization_code",
        ClientCredentials = "client_credentials",
        RefreshToken = "refresh_token",
    }
);

string_enum!(
    /// `token_endpoint_auth_method` (RFC 7591 §2, OIDC Core §9).
    AuthMethod {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        PrivateKeyJwt = "private_key_jwt",
        None = "none",
    }
);

impl AuthMethod {
    /// Whether the server generates a shared secret for clients using this method.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// A client identifier: 1 to 128 URL-safe characters (RFC 3986 unreserved), so it travels in
/// URLs, headers and form bodies unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if s.is_empty() || s.len() > 128 || !s.bytes().all(unreserved) {
            return Err("a client id has 1 to 128 characters from A-Z a-z 0-9 - . _ ~".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// A new random id (128 bits).
    pub fn generate() -> Self {
        use base64::Engine as _;
        let bytes = crate::crypto::random_bytes::<16>();
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this id reads as a UUID in any spelling `uuid` accepts (hyphenated, simple, any
    /// case): the form of a user's `sub`. A client's own tokens carry its id as `sub`, so such
    /// an id would make the two kinds of subject confusable (RFC 9068 §5); new clients may not
    /// have one.
    pub fn reads_as_uuid(&self) -> bool {
        uuid::Uuid::parse_str(&self.0).is_ok()
    }
}

impl TryFrom<String> for ClientId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A registered redirection endpoint (RFC 6749 §3.1.2): an absolute URL without a fragment;
/// `https`, plain `http` only for loopback (RFC 8252 §7.3), or a private-use scheme for native
/// apps (RFC 8252 §7.1). Compared byte for byte at the authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() > 2048 {
            return Err("a redirect URI has at most 2048 characters".into());
        }
        let url = Url::parse(s).map_err(|e| format!("not an absolute URL: {e}"))?;
        if url.fragment().is_some() || s.contains('#') {
            return Err("a redirect URI has no fragment (RFC 6749 §3.1.2)".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a redirect URI has no user information (RFC 9700 §4.1.3)".into());
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err("plain http is allowed only for loopback addresses".into()),
            // RFC 8252 §7.1: reverse-domain private-use schemes, e.g. com.example.app:/callback
            scheme if scheme.contains('.') => {}
            scheme => {
                return Err(format!(
                    "scheme `{scheme}` is not allowed (https, http on loopback, or a reverse-domain scheme)"
                ));
            }
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(host)) => host == "localhost",
        None => false,
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.0
    }
}

/// A resource a client may address (RFC 8707 §2): an absolute URI without a fragment; it
/// becomes the access token's `aud`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Audience(String);

impl Audience {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() > 2048 {
            return Err("an audience has at most 2048 characters".into());
        }
        let url = Url::parse(s).map_err(|e| format!("not an absolute URI: {e}"))?;
        if url.fragment().is_some() || s.contains('#') {
            return Err("an audience has no fragment (RFC 8707 section 2)".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Audience {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Audience> for String {
    fn from(a: Audience) -> Self {
        a.0
    }
}

/// The id of the account page's built-in client (`/account` signs people in through it); never
/// stored, so no registered client may take it.
pub const ACCOUNT_CLIENT_ID: &str = "gatehouse-account";

/// A registered client. Its secrets live apart (`ClientSecretRecord`), as digests only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    #[serde(rename = "client_id")]
    pub id: ClientId,
    pub name: String,
    pub client_type: ClientType,
    #[serde(rename = "token_endpoint_auth_method")]
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub scopes: ScopeSet,
    pub redirect_uris: Vec<RedirectUri>,
    /// Where it may send a browser after logout (RP-Initiated Logout 1.0 §3).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// The resources it may address; the first is the default audience of its tokens.
    pub audiences: Vec<Audience>,
    /// Its public keys, for `private_key_jwt` (a JWK Set, RFC 7517 §5).
    pub jwks: Option<serde_json::Value>,
    pub access_token_ttl_secs: Option<u32>,
    /// The algorithm of its ID tokens (OIDC Registration `id_token_signed_response_alg`);
    /// `None` for the deployment's default.
    pub id_token_signed_response_alg: Option<crate::crypto::SigningAlgorithm>,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// When true, every sign-in to this client needs a second factor: the authentication class
    /// `urn:gatehouse:acr:mfa` (OIDC Core §2 `acr`); a session signed in with a password alone
    /// is stepped up.
    pub require_mfa: bool,
    /// A disabled client cannot authenticate, sign anyone in or be issued tokens, and the
    /// tokens it already holds are refused.
    #[serde(default)]
    pub disabled: bool,
    /// Bumped by every change; the admin API's `ETag`.
    #[serde(skip)]
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_rfc_6749_and_8252() {
        for good in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "/relative",
            "ftp://files.example.com/",
            "https://user:pass@app.example.com/cb",
            "https://app.example.com@evil.example/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_ids_are_url_safe() {
        assert!(ClientId::parse("billing-service_2.v1~x").is_ok());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
        assert_eq!(ClientId::generate().as_str().len(), 22);
    }

    #[test]
    fn client_ids_spelled_as_uuids_are_recognised() {
        let user = uuid::Uuid::new_v4();
        for spelling in [
            user.to_string(),
            user.simple().to_string(),
            user.to_string().to_uppercase(),
            user.simple().to_string().to_uppercase(),
        ] {
            let id = ClientId::parse(&spelling).unwrap();
            assert!(id.reads_as_uuid(), "{spelling}");
        }
        for other in [
            "billing",
            "0123456789abcdef",
            "not-a-uuid-at-all-0000-000000000000",
        ] {
            assert!(!ClientId::parse(other).unwrap().reads_as_uuid(), "{other}");
        }
        // generated ids are 22 base64url characters, never a UUID
        assert!(!ClientId::generate().reads_as_uuid());
    }

    #[test]
    fn enums_parse_their_rfc_names() {
        assert_eq!(
            GrantType::parse("client_credentials"),
            Ok(GrantType::ClientCredentials)
        );
        assert_eq!(
            AuthMethod::parse("private_key_jwt"),
            Ok(AuthMethod::PrivateKeyJwt)
        );
        assert!(GrantType::parse("password").is_err());
    }
}
