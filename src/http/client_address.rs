//! One client address per request, for throttles, logs and audit events alike.
//!
//! The TCP peer is the client unless it is one of `server.trusted_proxies`. Only then is the
//! forwarded header (`server.client_address_header`) read, from its right end, where the
//! nearest proxy appended the address it received the request from: each trusted hop passes
//! the question on to the hop before it, and the first untrusted address is the client
//! (RFC 7239 §5.2). Entries left of it were written by whoever sent the request and prove
//! nothing, so an attacker cannot pick the address their requests count against.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage as _, HttpRequest, web};

use crate::config::{ClientAddressHeader, TrustedProxy};
use crate::state::AppState;

/// The most hops of a forwarded header looked at; a longer chain is cut from the left.
const MAX_HOPS: usize = 32;

/// The address a request is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Who to believe: the trusted proxies and the header they write.
#[derive(Debug, Clone, Copy)]
pub struct ProxyPolicy<'a> {
    trusted: &'a [TrustedProxy],
    header: ClientAddressHeader,
}

impl<'a> ProxyPolicy<'a> {
    pub fn new(trusted: &'a [TrustedProxy], header: ClientAddressHeader) -> Self {
        Self { trusted, header }
    }

    pub fn of(settings: &'a crate::config::ServerSettings) -> Self {
        Self::new(&settings.trusted_proxies, settings.client_address_header)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|proxy| proxy.contains(address))
    }

    /// The client address of a request from `peer` carrying `headers`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let name = match self.header {
            ClientAddressHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ClientAddressHeader::Forwarded => HeaderName::from_static("forwarded"),
        };
        // Several field lines are one list, in order (RFC 9110 §5.3).
        let hops: Vec<Option<IpAddr>> = headers
            .get_all(name)
            .flat_map(|value| value.to_str().unwrap_or("").split(','))
            .map(|element| match self.header {
                ClientAddressHeader::XForwardedFor => parse_node(element),
                ClientAddressHeader::Forwarded => forwarded_for(element).and_then(parse_node),
            })
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            match hop {
                Some(address) => {
                    client = *address;
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // `unknown`, an obfuscated name or garbage: the last hop we believe is the
                // nearest the request can be traced to.
                None => return client,
            }
        }
        client
    }
}

/// The `for=` value of one `Forwarded` element (RFC 7239 §4), unquoted.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`. Anything else is `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = node.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let bracketed = node.strip_prefix('[')?.split(']').next()?;
    bracketed.parse::<IpAddr>().ok().map(|a| a.to_canonical())
}

/// Works out the client address once, before anything else looks at the request.
pub async fn resolve_client_address(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let address = address_of(req.request());
    req.extensions_mut().insert(address);
    next.call(req).await
}

/// Serves the request as coming from its client address and request id (`crate::origin`), so
/// audit events record both. Wrapped inside the request-id middleware, which sets the id.
pub async fn carry_request_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let origin = crate::origin::RequestOrigin {
        client_address: client_address(req.request()).ip(),
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string),
        client_id: std::sync::Arc::default(),
    };
    crate::origin::serving(origin, next.call(req)).await
}

fn address_of(req: &HttpRequest) -> ClientAddress {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip());
    let address = match req.app_data::<web::Data<AppState>>() {
        Some(state) => ProxyPolicy::of(&state.settings.server).resolve(peer, req.headers()),
        None => peer.to_canonical(),
    };
    ClientAddress(address)
}

impl FromRequest for ClientAddress {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let known = req.extensions().get::<ClientAddress>().copied();
        std::future::ready(Ok(known.unwrap_or_else(|| address_of(req))))
    }
}

/// The client address of `req` (the one the middleware resolved).
pub fn client_address(req: &HttpRequest) -> ClientAddress {
    req.extensions()
        .get::<ClientAddress>()
        .copied()
        .unwrap_or_else(|| address_of(req))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn policy(trusted: &[&str], header: ClientAddressHeader) -> ProxyPolicy<'static> {
        let trusted: Vec<TrustedProxy> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        ProxyPolicy::new(trusted.leak(), header)
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn with_no_trusted_proxy_forwarded_headers_are_ignored() {
        let policy = policy(&[], ClientAddressHeader::XForwardedFor);
        let sent = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(
            policy.resolve(ip("198.51.100.4"), &sent),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let policy = policy(&["10.0.0.0/8"], ClientAddressHeader::XForwardedFor);
        let sent = headers("x-forwarded-for", &["10.0.0.1"]);
        assert_eq!(
            policy.resolve(ip("198.51.100.4"), &sent),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let policy = policy(&["10.0.0.0/8"], ClientAddressHeader::XForwardedFor);
        // the client wrote a spoofed entry; the outer proxy appended the real peer
        let sent = headers("x-forwarded-for", &["1.2.3.4, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(policy.resolve(ip("10.0.0.2"), &sent), ip("203.0.113.9"));
    }

    #[test]
    fn a_chain_of_only_trusted_hops_resolves_to_the_leftmost() {
        let policy = policy(&["10.0.0.0/8"], ClientAddressHeader::XForwardedFor);
        let sent = headers("x-forwarded-for", &["10.9.9.9, 10.1.1.1"]);
        assert_eq!(policy.resolve(ip("10.0.0.2"), &sent), ip("10.9.9.9"));
        let none = HeaderMap::new();
        assert_eq!(policy.resolve(ip("10.0.0.2"), &none), ip("10.0.0.2"));
    }

    #[test]
    fn garbage_stops_at_the_last_hop_believed() {
        let policy = policy(&["10.0.0.0/8"], ClientAddressHeader::XForwardedFor);
        let sent = headers("x-forwarded-for", &["203.0.113.9, not-an-address"]);
        assert_eq!(policy.resolve(ip("10.0.0.2"), &sent), ip("10.0.0.2"));
    }

    #[test]
    fn forwarded_elements_are_read_with_ports_quotes_and_ipv6() {
        let policy = policy(&["10.0.0.2", "::1"], ClientAddressHeader::Forwarded);
        let sent = headers(
            "forwarded",
            &[r#"for=192.0.2.60;proto=http, For="[2001:db8:cafe::17]:4711";by=10.0.0.2"#],
        );
        assert_eq!(policy.resolve(ip("::1"), &sent), ip("2001:db8:cafe::17"));
        let unknown = headers("forwarded", &["for=192.0.2.60, for=unknown"]);
        assert_eq!(policy.resolve(ip("10.0.0.2"), &unknown), ip("10.0.0.2"));
        // the other header is not the configured one
        let other = headers("x-forwarded-for", &["192.0.2.60"]);
        assert_eq!(policy.resolve(ip("10.0.0.2"), &other), ip("10.0.0.2"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_address() {
        let policy = policy(&["10.0.0.0/8"], ClientAddressHeader::XForwardedFor);
        let sent = headers("x-forwarded-for", &["203.0.113.9:5000"]);
        assert_eq!(
            policy.resolve(ip("::ffff:10.0.0.2"), &sent),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_ranges() {
        assert!("10.0.0.7".parse::<TrustedProxy>().is_ok());
        assert!("fd00::/8".parse::<TrustedProxy>().is_ok());
        assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
        assert!("proxy.internal".parse::<TrustedProxy>().is_err());
    }
}
