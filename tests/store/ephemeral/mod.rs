//! One contract, written once, that every `EphemeralStore` backend must pass; plus the checks
//! that only make sense for one backend (clock-driven expiry in memory, `PTTL` in Redis).

use std::sync::Arc;
use std::time::Duration;

use gatehouse::clock::FixedClock;
use gatehouse::ephemeral::{EphemeralStore, MemoryStore, RedisStore};

const TTL: Duration = Duration::from_secs(60);

/// Cases shared by all backends; each receives a fresh, empty store.
mod cases;

/// Instantiates every case in [`cases`] as a test, for the backend `$factory` builds. A factory
/// returning `None` means the backend is unavailable here and the test is skipped.
macro_rules! contract_suite {
    ($factory:path) => {
        contract_suite!(@cases $factory;
            put_then_get_returns_the_value,
            get_of_a_missing_key_is_none,
            put_replaces,
            take_returns_the_value_once_and_then_none,
            delete_reports_whether_something_was_there,
            put_if_absent_stores_only_once,
            two_concurrent_takes_of_one_key_never_both_succeed,
            concurrent_put_if_absent_has_exactly_one_winner,
            increment_counts_one_two_three,
            decrement_takes_one_back_and_never_creates_a_counter,
            keys_with_different_names_are_independent,
            a_counter_reads_back_as_its_decimal_count,
            a_zero_ttl_is_accepted,
            ping_works,
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(store) = $factory() {
                    crate::ephemeral::cases::$case(store).await;
                }
            }
        )*
    };
}

fn memory_store() -> Option<Arc<dyn EphemeralStore>> {
    Some(Arc::new(MemoryStore::new(Arc::new(
        FixedClock::starting_now(),
    ))))
}

/// A store under a prefix unique to this test, so parallel tests and repeated runs never share keys.
fn redis_store_with_prefix(url: Option<String>) -> Option<(RedisStore, String, String)> {
    let url = url?;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4());
    let store = RedisStore::new(&url, prefix.clone(), Duration::from_secs(2)).unwrap();
    Some((store, prefix, url))
}

fn redis_store() -> Option<Arc<dyn EphemeralStore>> {
    redis_store_with_prefix(crate::common::redis_url())
        .map(|(store, _, _)| Arc::new(store) as Arc<dyn EphemeralStore>)
}

fn sentinel_store() -> Option<Arc<dyn EphemeralStore>> {
    redis_store_with_prefix(crate::common::redis_sentinel_url())
        .map(|(store, _, _)| Arc::new(store) as Arc<dyn EphemeralStore>)
}

fn cluster_store() -> Option<Arc<dyn EphemeralStore>> {
    redis_store_with_prefix(crate::common::redis_cluster_url())
        .map(|(store, _, _)| Arc::new(store) as Arc<dyn EphemeralStore>)
}

/// Runs `cmd` on a connection of the test's own to the same Redis, whatever the topology, to
/// look at what the store wrote.
async fn raw_query<T: ::redis::FromRedisValue>(url: &str, cmd: &::redis::Cmd) -> T {
    use gatehouse::config::RedisTopology as Topology;
    match Topology::parse(url).unwrap() {
        Topology::Standalone(info) => {
            let client = ::redis::Client::open(info).unwrap();
            let mut raw = client.get_multiplexed_async_connection().await.unwrap();
            cmd.query_async(&mut raw).await.unwrap()
        }
        Topology::Sentinel {
            sentinels,
            service,
            master,
        } => {
            let node = ::redis::sentinel::SentinelNodeConnectionInfo::default()
                .set_redis_connection_info(master);
            let mut sentinel = ::redis::sentinel::SentinelClient::build(
                sentinels,
                service,
                Some(node),
                ::redis::sentinel::SentinelServerType::Master,
            )
            .unwrap();
            let mut raw = sentinel.get_async_connection().await.unwrap();
            cmd.query_async(&mut raw).await.unwrap()
        }
        Topology::Cluster(nodes) => {
            let client = ::redis::cluster::ClusterClient::new(nodes).unwrap();
            let mut raw = client.get_async_connection().await.unwrap();
            cmd.query_async(&mut raw).await.unwrap()
        }
    }
}

/// The checks only Redis can make (`PTTL`), for each topology: `$url` names the server.
macro_rules! redis_checks {
    ($url:path) => {
        use super::*;

        /// The remaining lifetime Redis reports for the store's key `key`, in milliseconds.
        async fn pttl(url: &str, prefix: &str, key: &str) -> i64 {
            raw_query(url, ::redis::cmd("PTTL").arg(format!("{prefix}{key}"))).await
        }

        fn assert_expires_within(pttl: i64, ttl: Duration) {
            assert!(
                pttl > 0 && pttl <= ttl.as_millis() as i64,
                "PTTL {pttl} not in (0, {ttl:?}]"
            );
        }

        #[tokio::test]
        async fn put_and_put_if_absent_set_the_ttl() {
            let Some((s, prefix, url)) = redis_store_with_prefix($url()) else {
                return;
            };
            s.put("a", b"v", TTL).await.unwrap();
            s.put_if_absent("b", b"v", TTL).await.unwrap();
            assert_expires_within(pttl(&url, &prefix, "a").await, TTL);
            assert_expires_within(pttl(&url, &prefix, "b").await, TTL);
        }

        #[tokio::test]
        async fn only_the_first_increment_sets_the_ttl() {
            let Some((s, prefix, url)) = redis_store_with_prefix($url()) else {
                return;
            };
            s.increment("n", TTL).await.unwrap();
            assert_expires_within(pttl(&url, &prefix, "n").await, TTL);
            // Stretch the window by hand; a later increment must leave it alone (fixed window).
            let stretched = 10 * TTL.as_millis() as i64;
            let pexpire = ::redis::cmd("PEXPIRE")
                .arg(format!("{prefix}n"))
                .arg(stretched)
                .clone();
            let _: () = raw_query(&url, &pexpire).await;
            assert_eq!(s.increment("n", TTL).await.unwrap(), 2);
            assert!(pttl(&url, &prefix, "n").await > TTL.as_millis() as i64);
        }

        #[tokio::test]
        async fn debug_output_shows_the_prefix_and_backend_only() {
            let Some((s, prefix, _)) = redis_store_with_prefix($url()) else {
                return;
            };
            let shown = format!("{s:?}");
            assert!(
                shown.contains(&prefix) && shown.contains("redis"),
                "{shown}"
            );
            assert_eq!(s.backend(), "redis");
        }
    };
}

mod memory {
    contract_suite!(super::memory_store);

    use super::*;

    fn store() -> (Arc<FixedClock>, MemoryStore) {
        let clock = Arc::new(FixedClock::starting_now());
        (clock.clone(), MemoryStore::new(clock))
    }

    #[tokio::test]
    async fn a_value_is_gone_once_its_ttl_has_passed() {
        let (clock, s) = store();
        s.put("k", b"v", TTL).await.unwrap();
        clock.advance(TTL - Duration::from_secs(1));
        assert_eq!(s.get("k").await.unwrap(), Some(b"v".to_vec()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(s.get("k").await.unwrap(), None);
        assert_eq!(s.take("k").await.unwrap(), None);
        assert!(!s.delete("k").await.unwrap());
    }

    #[tokio::test]
    async fn an_expired_counter_restarts_at_one() {
        let (clock, s) = store();
        assert_eq!(s.increment("n", TTL).await.unwrap(), 1);
        assert_eq!(s.increment("n", TTL).await.unwrap(), 2);
        clock.advance(TTL);
        assert_eq!(s.increment("n", TTL).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_counter_window_starts_at_the_first_increment_only() {
        let (clock, s) = store();
        s.increment("n", TTL).await.unwrap();
        clock.advance(TTL / 2);
        assert_eq!(s.increment("n", TTL).await.unwrap(), 2);
        clock.advance(TTL / 2);
        assert_eq!(s.increment("n", TTL).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn put_if_absent_works_again_after_expiry() {
        let (clock, s) = store();
        assert!(s.put_if_absent("jti", b"a", TTL).await.unwrap());
        clock.advance(TTL);
        assert!(s.put_if_absent("jti", b"b", TTL).await.unwrap());
        assert_eq!(s.get("jti").await.unwrap(), Some(b"b".to_vec()));
    }

    #[tokio::test]
    async fn debug_output_never_shows_stored_values() {
        let (_, s) = store();
        s.put("session", b"super-secret-value", TTL).await.unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(shown.contains("entries: 1"), "{shown}");
        assert_eq!(s.backend(), "memory");
    }
}

mod redis {
    contract_suite!(super::redis_store);
    redis_checks!(crate::common::redis_url);

    #[tokio::test]
    async fn an_unreachable_redis_constructs_and_then_fails_ping() {
        let s = RedisStore::new(
            "redis://:hunter2@127.0.0.1:1",
            "test:".into(),
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let started = std::time::Instant::now();
        assert!(s.ping().await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "ping took {:?}",
            started.elapsed()
        );
    }
}

/// With nothing listening, each topology constructs (the service starts while Redis is down)
/// and then fails as an outage within its timeout, never hanging and never a defect.
#[tokio::test]
async fn every_topology_constructs_unreachable_and_then_fails_ping_as_an_outage() {
    for url in [
        "redis+sentinel://:hunter2@127.0.0.1:1,127.0.0.1:2/gatehouse",
        "redis+cluster://:hunter2@127.0.0.1:1,127.0.0.1:2",
    ] {
        let s = RedisStore::new(url, "test:".into(), Duration::from_millis(300)).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let started = std::time::Instant::now();
        let err = s.ping().await.unwrap_err();
        assert!(err.is_unavailable(), "{url}: {err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{url}: ping took {:?}",
            started.elapsed()
        );
    }
}

/// Redis behind Sentinel: the store asks the Sentinel for the master.
mod redis_sentinel {
    contract_suite!(super::sentinel_store);
    redis_checks!(crate::common::redis_sentinel_url);

    #[tokio::test]
    async fn an_unknown_service_fails_ping_as_an_outage() {
        let Some(url) = crate::common::redis_sentinel_url() else {
            return;
        };
        let (base, _service) = url.rsplit_once('/').unwrap();
        let s = RedisStore::new(
            &format!("{base}/no-such-master"),
            "test:".into(),
            Duration::from_secs(2),
        )
        .unwrap();
        let err = s.ping().await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }
}

/// A Redis Cluster: every command and script names one key, so runs on the node owning it.
mod redis_cluster {
    contract_suite!(super::cluster_store);
    redis_checks!(crate::common::redis_cluster_url);

    /// The keys of one store land on several nodes, so the contract above ran across nodes
    /// (and its scripts ran where their one key lives), not on one node by chance.
    #[tokio::test]
    async fn a_stores_keys_spread_over_the_nodes() {
        let Some((s, prefix, url)) = redis_store_with_prefix(crate::common::redis_cluster_url())
        else {
            return;
        };
        for i in 0..32 {
            s.put(&format!("k{i}"), b"v", TTL).await.unwrap();
            s.increment(&format!("n{i}"), TTL).await.unwrap();
        }
        let gatehouse::config::RedisTopology::Cluster(nodes) =
            gatehouse::config::RedisTopology::parse(&url).unwrap()
        else {
            panic!("a cluster URL");
        };
        let mut holding = 0;
        for node in nodes {
            let mut raw = ::redis::Client::open(node)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let (_, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(0)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(100_000)
                .query_async(&mut raw)
                .await
                .unwrap();
            holding += usize::from(!keys.is_empty());
        }
        assert!(holding >= 2, "64 keys all on one node of three");
    }
}
