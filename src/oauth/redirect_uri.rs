//! Matching a requested `redirect_uri` against the registered ones: byte for byte
//! (RFC 9700 §4.1.3), except that a registered loopback IP redirect accepts any port
//! (RFC 8252 §7.3), since native apps bind an ephemeral port.

use url::Url;

use crate::domain::RedirectUri;

/// The registered URI that `requested` designates, if any.
pub fn find_registered<'a>(
    registered: &'a [RedirectUri],
    requested: &str,
) -> Option<&'a RedirectUri> {
    registered
        .iter()
        .find(|uri| uri.as_str() == requested || same_loopback_but_port(uri.as_str(), requested))
}

/// The two are the same string once the port is taken out of each, and the registered one is
/// `http` on a loopback IP literal. The comparison is on the strings, not on parsed URLs: a
/// parser would equate `/x/../cb` with `/cb`, `127.1` with `127.0.0.1` or `HTTP:` with `http:`,
/// and RFC 9700 §4.1.3 allows no difference but the port. `localhost` is not covered
/// (RFC 8252 §8.3: it may not resolve to loopback).
fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    let (Some(a), Some(b)) = (without_port(registered), without_port(requested)) else {
        return false;
    };
    let loopback_ip = Url::parse(registered).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    });
    a == b && loopback_ip && Url::parse(requested).is_ok()
}

/// `http://HOST:PORT/rest` as `("HOST", "/rest")`; the port is optional.
fn without_port(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let host = match authority.rsplit_once(':') {
        // `[::1]` has colons of its own; a port follows the bracket.
        Some((host, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (host.ends_with(']') || !host.contains(':')) =>
        {
            host
        }
        _ => authority,
    };
    Some((host, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<RedirectUri> {
        ["https://app.example.com/cb", "http://127.0.0.1/native/cb"]
            .into_iter()
            .map(|u| RedirectUri::parse(u).unwrap())
            .collect()
    }

    #[test]
    fn only_exact_matches_are_accepted() {
        let registered = registered();
        assert!(find_registered(&registered, "https://app.example.com/cb").is_some());
        for variant in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cbx",
            "https://evil.example.com/cb",
            "https://app.example.com.evil.com/cb",
            "https://app.example.com@evil.com/cb",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
        ] {
            assert!(find_registered(&registered, variant).is_none(), "{variant}");
        }
    }

    #[test]
    fn loopback_redirects_accept_any_port() {
        let registered = registered();
        assert!(find_registered(&registered, "http://127.0.0.1:51234/native/cb").is_some());
        assert!(find_registered(&registered, "http://127.0.0.1:51234/other").is_none());
        assert!(find_registered(&registered, "http://localhost:51234/native/cb").is_none());
        assert!(find_registered(&registered, "http://user@127.0.0.1:5/native/cb").is_none());
    }

    #[test]
    fn loopback_redirects_differ_by_the_port_only() {
        let registered = registered();
        for variant in [
            "http://127.0.0.1:51234/x/../native/cb",
            "http://127.1:51234/native/cb",
            "HTTP://127.0.0.1:51234/native/cb",
            "http://127.0.0.1:51234/native/c\tb",
            "http://127.0.0.1:99999/native/cb",
            "http://127.0.0.1:/native/cb",
            "http://127.0.0.1:51234/native/cb#x",
        ] {
            assert!(find_registered(&registered, variant).is_none(), "{variant}");
        }
        let ipv6 = [RedirectUri::parse("http://[::1]/cb").unwrap()];
        assert!(find_registered(&ipv6, "http://[::1]:51234/cb").is_some());
        assert!(find_registered(&ipv6, "http://[::1]:51234/other").is_none());
        let with_port = [RedirectUri::parse("http://127.0.0.1:8080/cb").unwrap()];
        assert!(find_registered(&with_port, "http://127.0.0.1:51234/cb").is_some());
        assert!(find_registered(&with_port, "http://127.0.0.1/cb").is_some());
    }
}
