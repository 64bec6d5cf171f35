//! Users as the UserInfo endpoint and ID tokens describe them, cached in process so that a
//! resource server calling UserInfo costs no database round trip in the steady state.
//! Dropped when the feed says the user changed or was cut off; sign-in and refresh read the
//! database itself, because they decide whether the person may still get new tokens.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::cache::ReadThrough;
use crate::domain::User;
use crate::store::{Database, StoreError};
use crate::telemetry::Metrics;

#[derive(Debug)]
pub struct UserCache(ReadThrough<Uuid, User>);

impl UserCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self(ReadThrough::new("users", capacity, ttl))
    }

    pub async fn get(
        &self,
        db: &dyn Database,
        metrics: &Metrics,
        id: Uuid,
    ) -> Result<Arc<User>, StoreError> {
        self.0.get(metrics, &id, || db.find_user(id)).await
    }

    /// Drops the user `id` (changed, disabled or deleted).
    pub fn evict(&self, id: &str) {
        if let Ok(id) = Uuid::parse_str(id) {
            self.0.evict(&id);
        }
    }

    pub fn clear(&self) {
        self.0.clear();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
