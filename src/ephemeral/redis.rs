//! The shared backend: Redis, so that several instances behind a load balancer see one state.
//! Each operation is a single Redis command (or script), which is what makes `take` and
//! `put_if_absent` atomic across instances. One Redis, Redis behind Sentinel, or a Redis
//! Cluster ([`crate::config::RedisTopology`]): every command and script names exactly one key,
//! so in a cluster each runs whole on the one node that owns its slot, and none can fail with
//! `CROSSSLOT`.

use std::sync::{Arc, LazyLock, PoisonError};
use std::time::Duration;

use ::redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use ::redis::cluster::{ClusterClientBuilder, ClusterConfig};
use ::redis::cluster_async::ClusterConnection;
use ::redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use ::redis::{
    AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture,
    RedisResult, Script, Value,
};
use async_trait::async_trait;

use super::{EphemeralError, EphemeralStore};
use crate::config::RedisTopology as Topology;

/// A fixed window: the expiry is set by the increment that creates the counter and never moved
/// by later ones. `INCR` and `PEXPIRE` must run as one step, or a crash between them would leave
/// a counter that never expires. One key, so one slot in a cluster.
static INCREMENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
",
    )
});

/// Takes one back from a live positive counter; `DECR` alone would create a counter with no
/// expiry on a key that expired meanwhile. One key, so one slot in a cluster.
static DECREMENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then
    redis.call('DECR', KEYS[1])
end
return 0
",
    )
});

/// An [`EphemeralStore`] in Redis (≥ 6.2, for `GETDEL`). Connects lazily and reconnects on its
/// own, so the service starts while Redis is down and recovers when it returns; meanwhile every
/// call fails (callers fail closed).
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    topology: &'static str,
    key_prefix: String,
    timeout: Duration,
}

/// One handle whatever the topology; each is a cheap clone onto shared connections.
#[derive(Clone)]
enum Connection {
    /// Reconnects to the same address after each failure.
    Standalone(ConnectionManager),
    /// Asks the Sentinels for the master again after each failure, so a failover is followed.
    Sentinel(Arc<SentinelMaster>),
    /// Learns the slot map from the nodes, follows `MOVED`/`ASK`, reconnects to nodes.
    Cluster(ClusterConnection),
}

impl RedisStore {
    /// A store for the Redis at `url` (any form [`crate::config::RedisTopology`] accepts) whose
    /// keys all start with `key_prefix`; every call gives up after `timeout`. Does not connect,
    /// so it succeeds while Redis is down; it fails only for a malformed URL, or outside a Tokio
    /// runtime (the connections spawn tasks).
    pub fn new(url: &str, key_prefix: String, timeout: Duration) -> Result<Self, EphemeralError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(EphemeralError::Backend(anyhow::anyhow!(
                "the Redis ephemeral store must be created inside a Tokio runtime"
            )));
        }
        let topology = Topology::parse(url)
            .map_err(|why| EphemeralError::Backend(anyhow::anyhow!("ephemeral.url {why}")))?;
        let kind = topology.kind();
        let connection = match topology {
            Topology::Standalone(info) => {
                let client = Client::open(info).map_err(backend)?;
                // One quick retry inside the manager; the outer timeout bounds the whole call
                // anyway, and the manager starts a fresh connection attempt after each I/O
                // failure.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1);
                Connection::Standalone(
                    ConnectionManager::new_lazy_with_config(client, config).map_err(backend)?,
                )
            }
            Topology::Sentinel {
                sentinels,
                service,
                master,
            } => {
                let db = master.db();
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(master);
                let sentinel = SentinelClient::build(
                    sentinels,
                    service,
                    Some(node),
                    SentinelServerType::Master,
                )
                .map_err(backend)?;
                Connection::Sentinel(Arc::new(SentinelMaster {
                    db,
                    sentinel: tokio::sync::Mutex::new(sentinel),
                    current: std::sync::Mutex::new(None),
                    config: AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout)),
                }))
            }
            Topology::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .build()
                    .map_err(backend)?;
                let config = ClusterConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout);
                // Pending: the nodes are reached in the background, and the first commands
                // wait for them (under the store's timeout).
                Connection::Cluster(client.get_pending_async_connection_with_config(config))
            }
        };
        Ok(Self {
            connection,
            topology: kind,
            key_prefix,
            timeout,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    /// Runs `cmd` under the store's timeout. The handle is a cheap clone onto shared
    /// multiplexed connections, so cloning it per call does not open connections.
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, EphemeralError> {
        let mut connection = self.connection.clone();
        self.bounded(async move { cmd.query_async(&mut connection).await })
            .await
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, EphemeralError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if e.is_timeout() => Err(EphemeralError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(backend(e)),
            Err(_elapsed) => Err(EphemeralError::Timeout(self.timeout)),
        }
    }
}

/// The master a Sentinel names, connected on first use and asked for again after a failure:
/// after a failover the old master refuses writes (`READONLY`) or is gone, and the next call
/// connects to whichever node the Sentinels promoted.
struct SentinelMaster {
    db: i64,
    /// Held only while asking the Sentinels and connecting, so concurrent calls connect once.
    sentinel: tokio::sync::Mutex<SentinelClient>,
    current: std::sync::Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
}

impl SentinelMaster {
    fn current(&self) -> Option<MultiplexedConnection> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let mut sentinel = self.sentinel.lock().await;
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let master = sentinel.async_get_client().await?;
        let connection = master
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        Ok(connection)
    }

    /// After `result`, drops the connection if it showed the master is gone or demoted.
    fn check<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        if result.as_ref().is_err_and(is_outage) {
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        result
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(master) => Box::pin(async move {
                let mut connection = master.connection().await?;
                master.check(connection.req_packed_command(cmd).await)
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(master) => Box::pin(async move {
                let mut connection = master.connection().await?;
                master.check(
                    connection
                        .req_packed_commands(pipeline, offset, count)
                        .await,
                )
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(master) => master.db,
        }
    }
}

/// Redis rejects `PX 0`; a zero TTL becomes the shortest one Redis accepts.
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// An outage when Redis is not there to answer (refused, dropped, timed out, loading its data,
/// failing over, a replica refusing writes), a defect otherwise (a wrong type, a script error, a
/// malformed URL).
fn backend(e: RedisError) -> EphemeralError {
    if is_outage(&e) {
        EphemeralError::Unavailable(anyhow::Error::new(e))
    } else {
        EphemeralError::Backend(anyhow::Error::new(e))
    }
}

fn is_outage(e: &RedisError) -> bool {
    use ::redis::{ErrorKind, ServerErrorKind};
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
            ) | ErrorKind::ClusterConnectionNotFound
                | ErrorKind::MasterNameNotFoundBySentinel
                | ErrorKind::NoValidReplicasFoundBySentinel
        )
}

impl std::fmt::Debug for RedisStore {
    /// The URL may carry a password, so it is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("backend", &"redis")
            .field("topology", &self.topology)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EphemeralStore for RedisStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), EphemeralError> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_millis(ttl));
        self.query::<()>(&cmd).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, EphemeralError> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl));
        // `OK` when stored, nil when the key already held something.
        let reply: Value = self.query(&cmd).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.key(key));
        self.query(&cmd).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
        let mut cmd = ::redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        self.query(&cmd).await
    }

    async fn delete(&self, key: &str) -> Result<bool, EphemeralError> {
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(self.key(key));
        let removed: u64 = self.query(&cmd).await?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, EphemeralError> {
        let mut invocation = INCREMENT.prepare_invoke();
        invocation.key(self.key(key)).arg(ttl_millis(ttl));
        let mut connection = self.connection.clone();
        self.bounded(async move { invocation.invoke_async(&mut connection).await })
            .await
    }

    async fn decrement(&self, key: &str) -> Result<(), EphemeralError> {
        let mut invocation = DECREMENT.prepare_invoke();
        invocation.key(self.key(key));
        let mut connection = self.connection.clone();
        self.bounded(async move { invocation.invoke_async::<i64>(&mut connection).await })
            .await
            .map(drop)
    }

    async fn ping(&self) -> Result<(), EphemeralError> {
        self.query::<()>(&::redis::cmd("PING")).await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_ttl_is_rounded_up_to_one_millisecond() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_millis(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn a_lost_connection_is_an_outage_and_a_wrong_reply_a_defect() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(backend(refused).is_unavailable());
        assert!(backend(reset).is_unavailable());
        let wrong_type = RedisError::from((
            ::redis::ErrorKind::UnexpectedReturnType,
            "expected an integer",
        ));
        assert!(!backend(wrong_type).is_unavailable());
    }

    #[test]
    fn outside_a_runtime_construction_fails_instead_of_panicking() {
        let made = RedisStore::new(
            "redis://127.0.0.1:6379",
            "t:".into(),
            Duration::from_secs(1),
        );
        assert!(matches!(made, Err(EphemeralError::Backend(_))));
    }
}
