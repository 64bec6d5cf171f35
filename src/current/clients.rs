//! Clients and their secret digests, cached in process: client authentication and the `/v1`
//! caller check cost no database round trip in the steady state.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::Jwk;

use super::cache::ReadThrough;
use crate::domain::{Client, ClientId};
use crate::store::{ClientSecretRecord, Database, StoreError};
use crate::telemetry::Metrics;

/// A client as cached: the registration, the secrets that were live when it was read
/// (callers still check each secret's expiry against their `now`) and its registered
/// assertion keys (RFC 7523), parsed once: parsing a key costs more than checking a signature.
pub struct CachedClient {
    pub client: Client,
    pub secrets: Vec<ClientSecretRecord>,
    pub assertion_keys: Vec<AssertionKey>,
}

/// One key of a client's registered JWK Set, ready to verify.
pub struct AssertionKey {
    pub kid: Option<String>,
    pub key: DecodingKey,
}

impl std::fmt::Debug for CachedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedClient")
            .field("client", &self.client)
            .field("secrets", &self.secrets)
            .field("assertion_keys", &self.assertion_keys.len())
            .finish()
    }
}

impl CachedClient {
    pub fn new(client: Client, secrets: Vec<ClientSecretRecord>) -> Self {
        let assertion_keys = parse_keys(&client);
        Self {
            client,
            secrets,
            assertion_keys,
        }
    }
}

/// The usable keys of the client's JWK Set; a key that does not parse is skipped (the set
/// was validated at registration, so this is a key of a type this build cannot use).
fn parse_keys(client: &Client) -> Vec<AssertionKey> {
    let Some(keys) = client
        .jwks
        .as_ref()
        .and_then(|jwks| jwks.get("keys"))
        .and_then(|keys| keys.as_array())
    else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
        .filter_map(|jwk| {
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(AssertionKey {
                kid: jwk.common.key_id,
                key,
            })
        })
        .collect()
}

#[derive(Debug)]
pub struct ClientCache(ReadThrough<ClientId, CachedClient>);

impl ClientCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self(ReadThrough::new("clients", capacity, ttl))
    }

    /// The client `id` with its live secrets at `now`, from the cache or the database.
    pub async fn get(
        &self,
        db: &dyn Database,
        metrics: &Metrics,
        id: &ClientId,
        now: time::OffsetDateTime,
    ) -> Result<Arc<CachedClient>, StoreError> {
        self.0
            .get(metrics, id, || async {
                let client = db.find_client(id).await?;
                let secrets = db.live_client_secrets(id, now).await?;
                Ok(CachedClient::new(client, secrets))
            })
            .await
    }

    /// Drops the client `id` (it changed, or was deleted).
    pub fn evict(&self, id: &str) {
        if let Ok(id) = ClientId::parse(id) {
            self.0.evict(&id);
        }
    }

    /// Drops every client (the feed could not be followed, so anything may have changed).
    pub fn clear(&self) {
        self.0.clear();
    }

    /// How long an entry is trusted without a change from the feed.
    pub fn ttl(&self) -> Duration {
        self.0.ttl()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
