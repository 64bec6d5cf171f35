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

/// Both are `http` on the same loopback IP literal with the same path and query; only the port
/// may differ. `localhost` is not covered (RFC 8252 §8.3: it may not resolve to loopback).
fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    let (Ok(a), Ok(b)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback_ip = |u: &Url| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    a.scheme() == "http"
        && b.scheme() == "http"
        && loopback_ip(&a)
        && a.host() == b.host()
        && a.username() == b.username()
        && a.password().is_none()
        && b.password().is_none()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
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
}
