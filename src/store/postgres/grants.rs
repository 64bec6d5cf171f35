use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::domain::{ClientId, ScopeSet};
use crate::signin::methods::Methods;
use crate::store::error::bounded;
use crate::store::{
    ChangeKind, Grant, GrantStore, NewChange, RefreshTokenRecord, RefreshTokenStore, Rotation,
    StoreError,
};

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: Uuid,
    user_id: Uuid,
    client_id: String,
    scopes: Json<ScopeSet>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl TryFrom<GrantRow> for Grant {
    type Error = StoreError;

    fn try_from(row: GrantRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            user_id: row.user_id,
            client_id: ClientId::parse(&row.client_id).map_err(StoreError::corrupt)?,
            scopes: row.scopes.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    digest: Vec<u8>,
    grant_id: Uuid,
    family_id: Uuid,
    parent_id: Option<Uuid>,
    scopes: Json<ScopeSet>,
    auth_time: OffsetDateTime,
    auth_methods: Option<Json<Methods>>,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    sealed_successor: Option<Vec<u8>>,
}

impl TryFrom<TokenRow> for RefreshTokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            digest: row
                .digest
                .try_into()
                .map_err(|_| StoreError::corrupt("token digest"))?,
            grant_id: row.grant_id,
            family_id: row.family_id,
            parent_id: row.parent_id,
            scopes: row.scopes.0,
            auth_time: row.auth_time,
            auth_methods: row.auth_methods.map(|m| m.0),
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            revoked_at: row.revoked_at,
            sealed_successor: row.sealed_successor,
        })
    }
}

const LIVE_GRANT: &str =
    "SELECT * FROM grants WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL";

#[async_trait]
impl GrantStore for PgStore {
    async fn find_live_grant(
        &self,
        user_id: Uuid,
        client_id: &ClientId,
    ) -> Result<Option<Grant>, StoreError> {
        let query = sqlx::query_as::<_, GrantRow>(LIVE_GRANT)
            .bind(user_id)
            .bind(client_id.as_str());
        bounded(self.timeout, query.fetch_optional(self.db()))
            .await?
            .map(Grant::try_from)
            .transpose()
    }

    async fn find_grant(&self, id: Uuid) -> Result<Grant, StoreError> {
        let query = sqlx::query_as::<_, GrantRow>("SELECT * FROM grants WHERE id = $1").bind(id);
        bounded(self.timeout, query.fetch_one(self.db()))
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
            let mut tx = self.begin().await?;
            let live = sqlx::query_as::<_, GrantRow>(
                "SELECT * FROM grants WHERE user_id = $1 AND client_id = $2 \
                 AND revoked_at IS NULL FOR UPDATE",
            )
            .bind(user_id)
            .bind(client_id.as_str())
            .fetch_optional(&mut tx)
            .await?;
            let grant = match live {
                Some(row) => {
                    let merged =
                        ScopeSet::from_scopes(row.scopes.0.iter().chain(wanted.iter()).cloned());
                    sqlx::query_as::<_, GrantRow>(
                        "UPDATE grants SET scopes = $1, updated_at = $2 WHERE id = $3 RETURNING *",
                    )
                    .bind(Json(&merged))
                    .bind(now)
                    .bind(row.id)
                    .fetch_one(&mut tx)
                    .await?
                }
                None => sqlx::query_as::<_, GrantRow>(
                    "INSERT INTO grants (id, user_id, client_id, scopes, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) RETURNING *",
                )
                .bind(Uuid::now_v7())
                .bind(user_id)
                .bind(client_id.as_str())
                .bind(Json(wanted))
                .bind(now)
                .fetch_one(&mut tx)
                .await?,
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(grant)
        })
        .await?
        .try_into()
    }

    async fn list_grants(&self, user_id: Uuid) -> Result<Vec<Grant>, StoreError> {
        let query = sqlx::query_as::<_, GrantRow>(
            "SELECT * FROM grants WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id);
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        rows.into_iter().map(Grant::try_from).collect()
    }

    async fn revoke_grant(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let done = bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            let revoked = sqlx::query(
                "UPDATE grants SET revoked_at = $1, updated_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut tx)
                .await?;
            // The access tokens under the grant end with it, on every instance (migration 0009).
            record_revocation(&mut tx, ChangeKind::Grant, &id.to_string(), now).await?;
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
impl RefreshTokenStore for PgStore {
    async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> Result<(), StoreError> {
        bounded(self.timeout, insert_token(self.db(), t)).await
    }

    async fn find_refresh_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<RefreshTokenRecord, StoreError> {
        let query = sqlx::query_as::<_, TokenRow>("SELECT * FROM refresh_tokens WHERE digest = $1")
            .bind(&digest[..]);
        bounded(self.timeout, query.fetch_one(self.db()))
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
            let mut tx = self.begin().await?;
            // The row lock makes a concurrent rotation wait, then find the token used.
            let claimed = sqlx::query(
                "UPDATE refresh_tokens SET used_at = $1, sealed_successor = $2 \
                 WHERE id = $3 AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(sealed_successor)
            .bind(old_id)
            .execute(&mut tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(Rotation::Lost);
            }
            insert_token(&mut tx, new).await?;
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
            let mut tx = self.begin().await?;
            // Recorded first: a refresh token stored after this sweep still finds it.
            record_revocation(&mut tx, ChangeKind::Family, &family_id.to_string(), now).await?;
            let revoked = sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(family_id)
            .execute(&mut tx)
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
    executor: impl sqlx::PgExecutor<'e>,
    kind: ChangeKind,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let change = NewChange::revocation(kind, subject, now);
    sqlx::query("INSERT INTO changes (kind, subject, at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(change.kind.as_str())
        .bind(&change.subject)
        .bind(change.at)
        .bind(change.expires_at)
        .execute(executor)
        .await
        .map(drop)
}

async fn insert_token<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    t: &RefreshTokenRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, digest, grant_id, family_id, parent_id, scopes, auth_time, \
         auth_methods, created_at, expires_at, used_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(t.id)
    .bind(&t.digest[..])
    .bind(t.grant_id)
    .bind(t.family_id)
    .bind(t.parent_id)
    .bind(Json(&t.scopes))
    .bind(t.auth_time)
    .bind(t.auth_methods.map(Json))
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.used_at)
    .bind(t.revoked_at)
    .execute(executor)
    .await
    .map(drop)
}
