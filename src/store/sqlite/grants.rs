use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, from_unix, to_unix};
use crate::domain::{ClientId, ScopeSet};
use crate::signin::methods::Methods;
use crate::store::error::bounded;
use crate::store::{
    ChangeKind, Grant, GrantStore, NewChange, RefreshTokenRecord, RefreshTokenStore, Rotation,
    StoreError,
};

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: String,
    user_id: String,
    client_id: String,
    scopes: String,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(StoreError::corrupt)
}

fn scopes(s: &str) -> Result<ScopeSet, StoreError> {
    serde_json::from_str(s).map_err(StoreError::corrupt)
}

fn methods_json(m: Methods) -> String {
    serde_json::to_string(&m).unwrap_or_else(|_| "[]".to_owned())
}

fn scopes_json(s: &ScopeSet) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "[]".to_owned())
}

impl TryFrom<GrantRow> for Grant {
    type Error = StoreError;

    fn try_from(row: GrantRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: uuid(&row.id)?,
            user_id: uuid(&row.user_id)?,
            client_id: ClientId::parse(&row.client_id).map_err(StoreError::corrupt)?,
            scopes: scopes(&row.scopes)?,
            created_at: from_unix(row.created_at)?,
            updated_at: from_unix(row.updated_at)?,
            revoked_at: row.revoked_at.map(from_unix).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    digest: Vec<u8>,
    grant_id: String,
    family_id: String,
    parent_id: Option<String>,
    scopes: String,
    auth_time: i64,
    auth_methods: Option<String>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    sealed_successor: Option<Vec<u8>>,
}

impl TryFrom<TokenRow> for RefreshTokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: uuid(&row.id)?,
            digest: row
                .digest
                .try_into()
                .map_err(|_| StoreError::corrupt("token digest"))?,
            grant_id: uuid(&row.grant_id)?,
            family_id: uuid(&row.family_id)?,
            parent_id: row.parent_id.as_deref().map(uuid).transpose()?,
            scopes: scopes(&row.scopes)?,
            auth_time: from_unix(row.auth_time)?,
            auth_methods: row
                .auth_methods
                .as_deref()
                .map(serde_json::from_str::<Methods>)
                .transpose()
                .map_err(StoreError::corrupt)?,
            created_at: from_unix(row.created_at)?,
            expires_at: from_unix(row.expires_at)?,
            used_at: row.used_at.map(from_unix).transpose()?,
            revoked_at: row.revoked_at.map(from_unix).transpose()?,
            sealed_successor: row.sealed_successor,
        })
    }
}

const LIVE_GRANT: &str =
    "SELECT * FROM grants WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL";

#[async_trait]
impl GrantStore for SqliteStore {
    async fn find_live_grant(
        &self,
        user_id: Uuid,
        client_id: &ClientId,
    ) -> Result<Option<Grant>, StoreError> {
        let query = sqlx::query_as::<_, GrantRow>(LIVE_GRANT)
            .bind(user_id.to_string())
            .bind(client_id.as_str());
        bounded(self.timeout, query.fetch_optional(&self.pool))
            .await?
            .map(Grant::try_from)
            .transpose()
    }

    async fn find_grant(&self, id: Uuid) -> Result<Grant, StoreError> {
        let query =
            sqlx::query_as::<_, GrantRow>("SELECT * FROM grants WHERE id = ?").bind(id.to_string());
        bounded(self.timeout, query.fetch_one(&self.pool))
            .await?
            .try_into()
    }

    async fn upsert_grant(
        &self,
        user_id: Uuid,
        client_id: &ClientId,
        wanted: &ScopeSet,
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError> {
        bounded(self.timeout, async {
            // IMMEDIATE: this reads, then writes. A deferred transaction that has read cannot
            // take the write lock once another connection committed after its read
            // (SQLITE_BUSY_SNAPSHOT, "database is locked" at once, busy_timeout or not); taking
            // the lock first makes concurrent sign-ins wait for each other instead.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let live = sqlx::query_as::<_, GrantRow>(LIVE_GRANT)
                .bind(user_id.to_string())
                .bind(client_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let id = match live {
                Some(row) => {
                    let held: ScopeSet = serde_json::from_str(&row.scopes)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    let merged = held.iter().chain(wanted.iter()).cloned();
                    sqlx::query("UPDATE grants SET scopes = ?, updated_at = ? WHERE id = ?")
                        .bind(scopes_json(&ScopeSet::from_scopes(merged)))
                        .bind(to_unix(now))
                        .bind(&row.id)
                        .execute(&mut *tx)
                        .await?;
                    row.id
                }
                None => {
                    let id = Uuid::now_v7().to_string();
                    sqlx::query(
                        "INSERT INTO grants (id, user_id, client_id, scopes, created_at, updated_at) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&id)
                    .bind(user_id.to_string())
                    .bind(client_id.as_str())
                    .bind(scopes_json(wanted))
                    .bind(to_unix(now))
                    .bind(to_unix(now))
                    .execute(&mut *tx)
                    .await?;
                    id
                }
            };
            let grant = sqlx::query_as::<_, GrantRow>("SELECT * FROM grants WHERE id = ?")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(grant)
        })
        .await?
        .try_into()
    }

    async fn list_grants(&self, user_id: Uuid) -> Result<Vec<Grant>, StoreError> {
        let query = sqlx::query_as::<_, GrantRow>(
            "SELECT * FROM grants WHERE user_id = ? ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id.to_string());
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(Grant::try_from).collect()
    }

    async fn revoke_grant(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let done = bounded(self.timeout, async {
            let mut tx = self.pool.begin().await?;
            let revoked = sqlx::query("UPDATE grants SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(to_unix(now))
                .bind(to_unix(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL")
                .bind(to_unix(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            // The access tokens under the grant end with it, on every instance (migration 0009).
            record_revocation(&mut *tx, ChangeKind::Grant, &id.to_string(), now).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(revoked == 1)
        })
        .await;
        // The revocation is in the feed: this instance and the others learn it at once.
        self.bell.ring();
        done
    }
}

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> Result<(), StoreError> {
        bounded(self.timeout, insert_token(&self.pool, t)).await
    }

    async fn find_refresh_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<RefreshTokenRecord, StoreError> {
        let query = sqlx::query_as::<_, TokenRow>("SELECT * FROM refresh_tokens WHERE digest = ?")
            .bind(&digest[..]);
        bounded(self.timeout, query.fetch_one(&self.pool))
            .await?
            .try_into()
    }

    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        sealed_successor: Option<&[u8]>,
        new: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE refresh_tokens SET used_at = ?, sealed_successor = ? \
                 WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(to_unix(now))
            .bind(sealed_successor)
            .bind(old_id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(Rotation::Lost);
            }
            insert_token(&mut *tx, new).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Rotation::Rotated)
        })
        .await
    }

    async fn revoke_refresh_family(
        &self,
        family_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = bounded(self.timeout, async {
            let mut tx = self.pool.begin().await?;
            // Recorded first: a refresh token stored after this sweep still finds it.
            record_revocation(&mut *tx, ChangeKind::Family, &family_id.to_string(), now).await?;
            let revoked = sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
            )
            .bind(to_unix(now))
            .bind(family_id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(revoked)
        })
        .await;
        // The revocation is in the feed: this instance and the others learn it at once.
        self.bell.ring();
        done
    }
}

/// A grant or family revocation in the change feed, inside the caller's transaction.
async fn record_revocation<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    kind: ChangeKind,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let change = NewChange::revocation(kind, subject, now);
    sqlx::query("INSERT INTO changes (kind, subject, at, expires_at) VALUES (?, ?, ?, ?)")
        .bind(change.kind.as_str())
        .bind(&change.subject)
        .bind(to_unix(change.at))
        .bind(to_unix(change.expires_at))
        .execute(executor)
        .await
        .map(drop)
}

async fn insert_token<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    t: &RefreshTokenRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, digest, grant_id, family_id, parent_id, scopes, auth_time, \
         auth_methods, created_at, expires_at, used_at, revoked_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.id.to_string())
    .bind(&t.digest[..])
    .bind(t.grant_id.to_string())
    .bind(t.family_id.to_string())
    .bind(t.parent_id.map(|p| p.to_string()))
    .bind(scopes_json(&t.scopes))
    .bind(to_unix(t.auth_time))
    .bind(t.auth_methods.map(methods_json))
    .bind(to_unix(t.created_at))
    .bind(to_unix(t.expires_at))
    .bind(t.used_at.map(to_unix))
    .bind(t.revoked_at.map(to_unix))
    .execute(executor)
    .await
    .map(drop)
}
