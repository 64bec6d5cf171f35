//! `[server]`: where Gatehouse listens, what it calls itself, whom it believes about client
//! addresses, and how long a request may take to arrive.

use serde::Deserialize;

use super::{BindAddress, IssuerUrl, TrustedProxy};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Where to listen. Port 0 picks a free port (tests).
    pub bind: BindAddress,
    /// The issuer identifier. Unset: `public_url`, else the bound address.
    pub issuer: Option<IssuerUrl>,
    /// The URL clients reach the service at (a proxy, a container name), when it differs from
    /// the bound address; the issuer and endpoint URLs derive from it unless `issuer` is set.
    pub public_url: Option<IssuerUrl>,
    /// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// `Strict-Transport-Security: max-age` sent on every response when the issuer is https
    /// (RFC 6797); 0 sends none. Never sent for a plain-http issuer.
    pub hsts_max_age_secs: u64,
    /// Proxies (addresses or CIDR ranges) whose forwarded header is believed. Empty: every
    /// forwarded header is ignored and the TCP peer is the client address.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Which header the trusted proxies write the client address into.
    pub client_address_header: ClientAddressHeader,
    /// Web origins allowed to call the token, userinfo, introspection and revocation endpoints
    /// from a browser (CORS), besides those of enabled public clients' redirect URIs.
    pub cors_allowed_origins: Vec<crate::domain::WebOrigin>,
    /// How long a request's head (request line and headers) may take to arrive: 408 and the
    /// connection closed after that (actix-web's `client_request_timeout`).
    pub header_timeout_ms: u64,
    /// How long a request's body may take to arrive, counted from its head: 408 and the
    /// connection closed after that (RFC 9110 §15.5.9).
    pub body_timeout_ms: u64,
    /// A second listener for operators: when set, `/metrics` and `/readyz` are served there
    /// (with `/healthz`) and no longer on `bind`. Unset: everything on `bind`.
    pub management_bind: Option<BindAddress>,
}

/// The header a trusted proxy appends the address it received a request from to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAddressHeader {
    /// `X-Forwarded-For` (Apache `mod_proxy`, nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=…` (RFC 7239).
    Forwarded,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: BindAddress::default_bind(),
            issuer: None,
            public_url: None,
            shutdown_timeout_secs: 30,
            workers: None,
            hsts_max_age_secs: 365 * 24 * 3600,
            trusted_proxies: Vec::new(),
            client_address_header: ClientAddressHeader::default(),
            cors_allowed_origins: Vec::new(),
            header_timeout_ms: 5_000,
            body_timeout_ms: 10_000,
            management_bind: None,
        }
    }
}

impl BindAddress {
    fn default_bind() -> Self {
        Self::from_socket_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}
