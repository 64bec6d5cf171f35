//! Validated configuration values. Each parses from a string at load time, so a bad value stops
//! the process before anything starts, with an error that names the key (figment adds the path).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use base64::Engine as _;
use serde::Deserialize;
use url::Url;

/// `server.bind`: an IP address and a port (`127.0.0.1:8080`, `[::1]:0`, `0.0.0.0:8080`).
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BindAddress(SocketAddr);

impl BindAddress {
    pub fn from_socket_addr(addr: SocketAddr) -> Self {
        Self(addr)
    }

    pub fn socket_addr(self) -> SocketAddr {
        self.0
    }
}

impl FromStr for BindAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = s.rsplit_once(':').ok_or_else(|| {
            format!("`{s}` is not an address with a port, such as 127.0.0.1:8080")
        })?;
        let port: u32 = port
            .parse()
            .map_err(|_| format!("port `{port}` is not a number"))?;
        if port > u32::from(u16::MAX) {
            return Err(format!("port {port} is out of range (0-65535)"));
        }
        s.parse::<SocketAddr>().map(Self).map_err(|_| {
            format!("`{host}` is not an IP address (use e.g. 127.0.0.1, 0.0.0.0 or [::1])")
        })
    }
}

impl TryFrom<String> for BindAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Debug for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `server.issuer`: RFC 8414 §2: an `https` URL (plain `http` is accepted for development) with
/// no query and no fragment. Kept without a trailing slash so endpoint URLs join cleanly.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IssuerUrl(String);

impl IssuerUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The issuer derived from the address actually bound (`http://127.0.0.1:8080`).
    pub fn from_bound_address(addr: SocketAddr) -> Self {
        Self(format!("http://{addr}"))
    }
}

impl FromStr for IssuerUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("must be an https (or, for development, http) URL".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or a fragment (RFC 8414 §2)".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }
}

impl TryFrom<String> for IssuerUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Debug for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `database.url`: `sqlite://path`, `sqlite::memory:` or `postgres://…`. Its `Debug` hides any
/// password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// An SQLite database that lives only in this process (`sqlite::memory:`, `mode=memory`).
    pub fn is_in_memory(&self) -> bool {
        match self {
            Self::Sqlite(url) => url.contains(":memory:") || url.contains("mode=memory"),
            Self::Postgres(_) => false,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
        match url.scheme() {
            "sqlite" if s.len() > "sqlite:".len() => Ok(Self::Sqlite(s.to_owned())),
            "sqlite" => Err("names no SQLite file (e.g. sqlite://data/gatehouse.db)".into()),
            "postgres" | "postgresql" if url.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(Self::Postgres(s.to_owned()))
            }
            "postgres" | "postgresql" => Err("names no PostgreSQL host".into()),
            other => Err(format!(
                "scheme `{other}` is not supported (use sqlite:// or postgres://)"
            )),
        }
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.as_str()))
    }
}

/// `ephemeral.url`: `memory`, `redis://…` / `rediss://…`, or a Sentinel or Cluster list
/// (`redis+sentinel://host:26379,…/service`, `redis+cluster://host:6379,…`; see
/// [`RedisTopology`](super::RedisTopology)). Its `Debug` hides any password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum EphemeralUrl {
    Memory,
    Redis(String),
}

impl FromStr for EphemeralUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        if super::redis_topology::is_list_form(s) {
            super::RedisTopology::parse(s)?;
            return Ok(Self::Redis(s.to_owned()));
        }
        let url = Url::parse(s).map_err(|e| format!("not `memory` nor a valid URL: {e}"))?;
        match url.scheme() {
            "redis" | "rediss" if url.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(Self::Redis(s.to_owned()))
            }
            "redis" | "rediss" => Err("names no Redis host".into()),
            other => Err(format!(
                "scheme `{other}` is not supported (use `memory`, redis://, \
                 redis+sentinel:// or redis+cluster://)"
            )),
        }
    }
}

impl TryFrom<String> for EphemeralUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Debug for EphemeralUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Redis(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// `keys.encryption_key`: 32 bytes in standard base64, the key-encryption key that seals signing
/// keys at rest. Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key, for a database that lives no longer than this process.
    pub fn generate() -> Self {
        Self(crate::crypto::random_bytes::<32>())
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl FromStr for EncryptionKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Never echo the value: it is a secret.
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| "is not standard base64".to_owned())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("must be 32 bytes, got {}", b.len()))?;
        Ok(Self(bytes))
    }
}

impl TryFrom<String> for EncryptionKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Replaces the password of a URL with `[redacted]`; a string that is no URL is hidden whole.
fn redact_url(raw: &str) -> String {
    if super::redis_topology::is_list_form(raw) {
        return redact_node_list(raw);
    }
    let Ok(mut url) = Url::parse(raw) else {
        return "[redacted]".to_owned();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("[redacted]"));
    }
    if url.query().is_some_and(|q| q.contains("password")) {
        url.set_query(Some("[redacted]"));
    }
    url.to_string()
}

/// A Sentinel or Cluster list is no URL the `url` crate parses (several hosts in one
/// authority): the password is cut out of the credentials by hand.
fn redact_node_list(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return "[redacted]".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:[redacted]@{}", &rest[at + 1..])
        }
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_address_rejects_port_out_of_range() {
        let err = "127.0.0.1:70000".parse::<BindAddress>().err();
        assert_eq!(err.as_deref(), Some("port 70000 is out of range (0-65535)"));
        assert!("127.0.0.1:0".parse::<BindAddress>().is_ok());
        assert!("[::1]:8080".parse::<BindAddress>().is_ok());
        assert!("localhost".parse::<BindAddress>().is_err());
    }

    #[test]
    fn issuer_must_be_http_without_query_or_fragment() {
        assert_eq!(
            "https://id.example.com/".parse::<IssuerUrl>().map(|i| i.0),
            Ok("https://id.example.com".to_owned())
        );
        assert!("https://id.example.com/?a=b".parse::<IssuerUrl>().is_err());
        assert!("https://id.example.com/#x".parse::<IssuerUrl>().is_err());
        assert!("ftp://id.example.com".parse::<IssuerUrl>().is_err());
    }

    #[test]
    fn database_urls_by_scheme() {
        assert!(matches!(
            "sqlite://data/gatehouse.db".parse(),
            Ok(DatabaseUrl::Sqlite(_))
        ));
        assert!(matches!(
            "sqlite::memory:".parse(),
            Ok(DatabaseUrl::Sqlite(_))
        ));
        assert!(matches!(
            "postgres://u:p@db/gatehouse".parse(),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!("mysql://db/x".parse::<DatabaseUrl>().is_err());
        assert!("not a url".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn urls_never_print_their_password() {
        let db: DatabaseUrl = "postgres://user:hunter2@db:5432/gh".parse().unwrap();
        assert!(!format!("{db:?}").contains("hunter2"));
        let redis: EphemeralUrl = "redis://:hunter2@cache:6379/0".parse().unwrap();
        assert!(!format!("{redis:?}").contains("hunter2"));
        let sentinel: EphemeralUrl = "redis+sentinel://app:hunter2@s1,s2:26380/mymaster/1"
            .parse()
            .unwrap();
        assert_eq!(
            format!("{sentinel:?}"),
            "redis+sentinel://app:[redacted]@s1,s2:26380/mymaster/1"
        );
        let cluster: EphemeralUrl = "redis+cluster://n1:7000,n2:7001".parse().unwrap();
        assert_eq!(format!("{cluster:?}"), "redis+cluster://n1:7000,n2:7001");
    }

    #[test]
    fn encryption_key_is_32_bytes_of_base64_and_never_printed() {
        let key = EncryptionKey::from_bytes([7; 32]);
        let parsed: EncryptionKey = key.to_base64().parse().unwrap();
        assert_eq!(parsed, key);
        assert_eq!(format!("{key:?}"), "[redacted]");
        assert_eq!(
            "c2hvcnQ=".parse::<EncryptionKey>().err().as_deref(),
            Some("must be 32 bytes, got 5")
        );
    }
}

/// One entry of `server.trusted_proxies`: an address (`10.0.0.7`, `::1`) or a CIDR range
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TrustedProxy(ipnet::IpNet);

impl TrustedProxy {
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        self.0.contains(&address)
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(address) = s.parse::<std::net::IpAddr>() {
            return Ok(Self(ipnet::IpNet::from(address.to_canonical())));
        }
        s.parse::<ipnet::IpNet>()
            .map(|net| Self(net.trunc()))
            .map_err(|_| {
                format!("`{s}` is neither an IP address nor a CIDR range such as 10.0.0.0/8")
            })
    }
}

impl TryFrom<String> for TrustedProxy {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Debug for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
