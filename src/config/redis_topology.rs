//! The three shapes of a Redis `ephemeral.url`: one Redis, Redis behind Sentinel, or a Redis
//! Cluster, parsed here so that a bad list fails at load with the key's name.
//!
//! The `redis` crate parses single-node URLs only; a Sentinel or Cluster client takes a list of
//! nodes. The list forms follow the `redis+sentinel://` convention of other Redis clients (the
//! Python `Redis-Sentinel-Url` package, Prefect, RedisVL): every node in one authority, comma
//! separated, sharing one set of credentials:
//!
//! - `redis://[user:password@]host[:port][/db]`: one server (the crate's own form);
//! - `redis+sentinel://[user:password@]host[:port][,host[:port]…]/service[/db]`: the Sentinels
//!   (port 26379 by default) that name the current master of `service`; the credentials and
//!   `db` are the master's, the Sentinels themselves are asked without credentials;
//! - `redis+cluster://[user:password@]host[:port][,host[:port]…]`: some of the cluster's nodes
//!   (port 6379 by default), from which the client learns the others; a cluster has only db 0.
//!
//! Each node becomes a `redis://` URL that the crate itself parses (percent-decoding the
//! credentials), so a node is valid here exactly when the crate accepts it.

use redis::{ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

/// Where the store's keys live.
#[derive(Clone)]
pub enum RedisTopology {
    Standalone(ConnectionInfo),
    Sentinel {
        sentinels: Vec<ConnectionInfo>,
        service: String,
        /// How to talk to the master once a Sentinel has named it.
        master: RedisConnectionInfo,
    },
    Cluster(Vec<ConnectionInfo>),
}

const SENTINEL: &str = "redis+sentinel://";
const CLUSTER: &str = "redis+cluster://";

impl RedisTopology {
    /// Parses `ephemeral.url`. The error never repeats the URL: it may hold a password.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(rest) = strip_scheme(url, SENTINEL) {
            let (credentials, hosts, path) = split(rest)?;
            let mut segments = path.split('/');
            let service = segments.next().unwrap_or_default();
            if service.is_empty() {
                return Err(
                    "names no Sentinel service (redis+sentinel://host:26379/mymaster)".into(),
                );
            }
            let db = segments.next().unwrap_or("0");
            if segments.next().is_some() {
                return Err("has more than /service/db in its path".into());
            }
            let sentinels = nodes(hosts, 26379, "", "0")?;
            let master = node(&format!("redis://{credentials}sentinel-master/{db}"))?;
            Ok(Self::Sentinel {
                sentinels,
                service: service.to_owned(),
                master: master.redis_settings().clone(),
            })
        } else if let Some(rest) = strip_scheme(url, CLUSTER) {
            let (credentials, hosts, path) = split(rest)?;
            if !path.is_empty() {
                return Err("has a path, but a Redis Cluster has only database 0".into());
            }
            Ok(Self::Cluster(nodes(hosts, 6379, credentials, "0")?))
        } else {
            Ok(Self::Standalone(node(url)?))
        }
    }

    /// `standalone`, `sentinel` or `cluster`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Standalone(_) => "standalone",
            Self::Sentinel { .. } => "sentinel",
            Self::Cluster(_) => "cluster",
        }
    }
}

/// Whether `url` is one of the list forms; the scheme is case-insensitive (RFC 3986 §3.1).
pub(super) fn is_list_form(url: &str) -> bool {
    strip_scheme(url, SENTINEL).is_some() || strip_scheme(url, CLUSTER).is_some()
}

fn strip_scheme<'u>(url: &'u str, scheme: &str) -> Option<&'u str> {
    let head = url.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &url[scheme.len()..])
}

/// `[credentials@]hosts[/path]` into the credentials (with their `@`), the host list and the
/// path without its leading `/`. A query is refused rather than silently ignored.
fn split(rest: &str) -> Result<(&str, &str, &str), String> {
    if rest.contains('?') || rest.contains('#') {
        return Err("takes no query or fragment".into());
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    Ok((credentials, hosts, path.trim_end_matches('/')))
}

fn nodes(
    hosts: &str,
    default_port: u16,
    credentials: &str,
    db: &str,
) -> Result<Vec<ConnectionInfo>, String> {
    let nodes: Vec<ConnectionInfo> = hosts
        .split(',')
        .map(|host| {
            if host.is_empty() {
                return Err("names an empty host".to_owned());
            }
            node(&format!(
                "redis://{credentials}{}/{db}",
                with_port(host, default_port)
            ))
        })
        .collect::<Result<_, _>>()?;
    Ok(nodes)
}

/// `host` with `:port` added when it has none (an IPv6 literal is bracketed: `[::1]:7000`).
fn with_port(host: &str, default_port: u16) -> String {
    let has_port = match host.rfind(']') {
        Some(bracket) => host[bracket..].contains(':'),
        None => host.contains(':'),
    };
    if has_port {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    }
}

fn node(url: &str) -> Result<ConnectionInfo, String> {
    url.into_connection_info()
        .map_err(|e| format!("is not a Redis URL the client accepts: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ConnectionAddr;

    fn addrs(nodes: &[ConnectionInfo]) -> Vec<String> {
        nodes.iter().map(|n| n.addr().to_string()).collect()
    }

    #[test]
    fn a_plain_url_is_one_server() {
        let Ok(RedisTopology::Standalone(info)) = RedisTopology::parse("redis://:pw@cache:6380/2")
        else {
            panic!("standalone");
        };
        assert_eq!(info.addr(), &ConnectionAddr::Tcp("cache".into(), 6380));
        assert_eq!(info.redis_settings().db(), 2);
        assert_eq!(info.redis_settings().password(), Some("pw"));
    }

    #[test]
    fn sentinels_default_to_port_26379_and_the_credentials_are_the_masters() {
        let parsed =
            RedisTopology::parse("redis+sentinel://app:p%40ss@s1,s2:26380,[::1]/mymaster/3");
        let Ok(RedisTopology::Sentinel {
            sentinels,
            service,
            master,
        }) = parsed
        else {
            panic!("sentinel");
        };
        assert_eq!(addrs(&sentinels), ["s1:26379", "s2:26380", "::1:26379"]);
        assert!(
            sentinels
                .iter()
                .all(|s| s.redis_settings().password().is_none())
        );
        assert_eq!(service, "mymaster");
        assert_eq!(master.username(), Some("app"));
        assert_eq!(master.password(), Some("p@ss"), "percent-decoded");
        assert_eq!(master.db(), 3);
    }

    #[test]
    fn cluster_nodes_default_to_port_6379_and_share_the_credentials() {
        let Ok(RedisTopology::Cluster(nodes)) =
            RedisTopology::parse("REDIS+CLUSTER://:secret@n1:7000,n2:7001,n3")
        else {
            panic!("cluster");
        };
        assert_eq!(addrs(&nodes), ["n1:7000", "n2:7001", "n3:6379"]);
        assert!(
            nodes
                .iter()
                .all(|n| n.redis_settings().password() == Some("secret"))
        );
    }

    #[test]
    fn malformed_lists_are_refused_without_echoing_the_password() {
        for (url, why) in [
            ("redis+sentinel://:hunter2@s1,s2", "service"),
            ("redis+sentinel://:hunter2@s1/m/0/extra", "path"),
            ("redis+sentinel://:hunter2@s1/m/x", "Redis URL"),
            ("redis+cluster://:hunter2@n1,,n2", "empty host"),
            ("redis+cluster://:hunter2@n1/1", "database 0"),
            ("redis+cluster://:hunter2@n1?tls=1", "query"),
            ("redis+cluster://:hunter2@n1:99999", "Redis URL"),
        ] {
            let err = RedisTopology::parse(url)
                .err()
                .unwrap_or_else(|| panic!("{url} parsed"));
            assert!(err.contains(why), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn only_the_list_schemes_are_list_forms() {
        assert!(is_list_form("redis+sentinel://s/m"));
        assert!(is_list_form("Redis+Cluster://n"));
        assert!(!is_list_form("redis://cache"));
        assert!(!is_list_form("redis+unix:///tmp/r.sock"));
    }
}
