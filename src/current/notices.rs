//! Change notices over Redis pub/sub: when this instance writes to the change feed it says so
//! on a channel, and every instance listening reads the feed at once instead of at its next
//! poll. A notice carries nothing but "the feed moved": the feed stays the only truth, so a
//! lost notice (Redis restarting, a subscriber reconnecting) costs at most one poll interval
//! (`cache.poll_interval_ms`, which keeps running as the backstop), and a needless one costs
//! one indexed read. Pub/sub keeps no state in Redis; nothing here must survive a restart.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use crate::config::{EphemeralSettings, EphemeralUrl};
use crate::ephemeral::EphemeralError;

/// How this instance tells the others, and hears them.
pub struct ChangeNotices {
    redis: Option<RedisNotices>,
    /// Whether the subscription stands now.
    subscribed: watch::Sender<bool>,
    /// How many notices from other instances were heard.
    heard: watch::Sender<u64>,
}

struct RedisNotices {
    client: ::redis::Client,
    publisher: ConnectionManager,
    /// `<ephemeral.key_prefix>changes`: instances sharing a prefix share a deployment.
    channel: String,
    /// This instance's own notices are not news to it.
    instance: String,
    timeout: Duration,
}

impl std::fmt::Debug for ChangeNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeNotices")
            .field("channel", &self.redis.as_ref().map(|r| &r.channel))
            .finish()
    }
}

impl ChangeNotices {
    /// Notices through the Redis of `ephemeral.url`; none on the in-memory store, where there
    /// is one instance.
    pub fn connect(settings: &EphemeralSettings) -> Result<Self, EphemeralError> {
        let EphemeralUrl::Redis(url) = &settings.url else {
            return Ok(Self::without(None));
        };
        let backend = |error: ::redis::RedisError| EphemeralError::Backend(error.into());
        let client = ::redis::Client::open(url.as_str()).map_err(backend)?;
        let timeout = Duration::from_millis(settings.timeout_ms);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let publisher =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(backend)?;
        Ok(Self::without(Some(RedisNotices {
            client,
            publisher,
            channel: format!("{}changes", settings.key_prefix),
            instance: uuid::Uuid::new_v4().to_string(),
            timeout,
        })))
    }

    fn without(redis: Option<RedisNotices>) -> Self {
        Self {
            redis,
            subscribed: watch::channel(false).0,
            heard: watch::channel(0).0,
        }
    }

    /// How many notices from other instances this one has heard.
    pub fn heard(&self) -> u64 {
        *self.heard.borrow()
    }

    /// Waits until at least `count` notices were heard (tests).
    pub async fn heard_at_least(&self, count: u64) {
        let _ = self
            .heard
            .subscribe()
            .wait_for(|&heard| heard >= count)
            .await;
    }

    /// Waits until the subscription stands (tests; a notice sent before is not heard).
    pub async fn subscribed(&self) {
        let _ = self.subscribed.subscribe().wait_for(|&on| on).await;
    }

    pub fn enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// Tells the other instances that the feed moved. Best effort: when Redis cannot be
    /// reached they read it at their next poll.
    pub async fn announce(&self) {
        let Some(redis) = &self.redis else { return };
        let mut publisher = redis.publisher.clone();
        let mut command = ::redis::cmd("PUBLISH");
        command.arg(&redis.channel).arg(&redis.instance);
        let publish = command.query_async::<i64>(&mut publisher);
        match tokio::time::timeout(redis.timeout, publish).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::debug!(%error, "could not announce a change"),
            Err(_) => tracing::debug!("announcing a change timed out"),
        }
    }

    /// Listens for the other instances' notices until the process ends, waking `heard` at
    /// each (and after each reconnection, for what may have been missed meanwhile).
    pub async fn listen(&self, heard: &Notify, metrics: &crate::telemetry::Metrics) {
        let Some(redis) = &self.redis else {
            return std::future::pending().await;
        };
        let mut backoff = Duration::from_millis(100);
        let mut failing = false;
        loop {
            match redis.subscribe().await {
                Ok(mut pubsub) => {
                    if failing {
                        tracing::info!("listening for change notices again");
                        failing = false;
                    }
                    backoff = Duration::from_millis(100);
                    self.subscribed.send_replace(true);
                    // What was sent while no subscription stood is read now.
                    heard.notify_one();
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if message.get_payload_bytes() != redis.instance.as_bytes() {
                            heard.notify_one();
                            self.heard.send_modify(|count| *count += 1);
                            metrics.change_notice_heard();
                        }
                    }
                    self.subscribed.send_replace(false);
                    tracing::warn!("lost the change notice subscription; the feed is still polled");
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot subscribe to change notices; the feed is still polled");
                    }
                    failing = true;
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

impl RedisNotices {
    async fn subscribe(&self) -> Result<::redis::aio::PubSub, ::redis::RedisError> {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok(pubsub)
        };
        tokio::time::timeout(self.timeout, connect)
            .await
            .unwrap_or_else(|_| {
                Err(::redis::RedisError::from((
                    ::redis::ErrorKind::Io,
                    "subscribing timed out",
                )))
            })
    }
}
