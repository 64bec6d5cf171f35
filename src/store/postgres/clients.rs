use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use super::idempotency::insert_record;
use crate::crypto::SigningAlgorithm;
use crate::domain::{
    Audience, AuthMethod, Client, ClientId, ClientType, GrantType, RedirectUri, ScopeSet,
};
use crate::store::error::bounded;
use crate::store::{After, ClientSecretRecord, ClientStore, IdempotencyRecord, StoreError};

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    client_type: String,
    token_endpoint_auth_method: String,
    grant_types: Json<Vec<GrantType>>,
    scopes: Json<ScopeSet>,
    redirect_uris: Json<Vec<RedirectUri>>,
    post_logout_redirect_uris: Json<Vec<RedirectUri>>,
    audiences: Json<Vec<Audience>>,
    jwks: Option<Json<serde_json::Value>>,
    id_token_signed_response_alg: Option<String>,
    access_token_ttl_secs: Option<i32>,
    first_party: bool,
    require_mfa: bool,
    disabled: bool,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: ClientId::parse(&row.id).map_err(StoreError::corrupt)?,
            name: row.name,
            client_type: ClientType::parse(&row.client_type).map_err(StoreError::corrupt)?,
            auth_method: AuthMethod::parse(&row.token_endpoint_auth_method)
                .map_err(StoreError::corrupt)?,
            grant_types: row.grant_types.0,
            scopes: row.scopes.0,
            redirect_uris: row.redirect_uris.0,
            post_logout_redirect_uris: row.post_logout_redirect_uris.0,
            audiences: row.audiences.0,
            id_token_signed_response_alg: row
                .id_token_signed_response_alg
                .as_deref()
                .map(|alg| SigningAlgorithm::parse(alg).ok_or_else(|| StoreError::corrupt(alg)))
                .transpose()?,
            jwks: row.jwks.map(|j| j.0),
            access_token_ttl_secs: row
                .access_token_ttl_secs
                .map(u32::try_from)
                .transpose()
                .map_err(StoreError::corrupt)?,
            first_party: row.first_party,
            require_mfa: row.require_mfa,
            disabled: row.disabled,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    id: Uuid,
    digest: Vec<u8>,
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
}

impl TryFrom<SecretRow> for ClientSecretRecord {
    type Error = StoreError;

    fn try_from(row: SecretRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            digest: row
                .digest
                .try_into()
                .map_err(|_| StoreError::corrupt("secret digest"))?,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

const INSERT_SECRET: &str = "INSERT INTO client_secrets (id, client_id, digest, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";

#[async_trait]
impl ClientStore for PgStore {
    async fn insert_client_idempotently(
        &self,
        client: &Client,
        secret: Option<&ClientSecretRecord>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let ttl = client
            .access_token_ttl_secs
            .map(i32::try_from)
            .transpose()
            .map_err(|_| StoreError::corrupt("access token lifetime out of range"))?;
        bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // First, so the loser of a race on one key waits for the winner and then stops.
            if let Some(record) = idempotency {
                insert_record(&mut tx, record).await?;
            }
            sqlx::query(
                "INSERT INTO clients (id, name, client_type, token_endpoint_auth_method, \
                 grant_types, scopes, redirect_uris, post_logout_redirect_uris, audiences, jwks, \
                 access_token_ttl_secs, id_token_signed_response_alg, first_party, require_mfa, \
                 disabled, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18)",
            )
            .bind(client.id.as_str())
            .bind(&client.name)
            .bind(client.client_type.as_str())
            .bind(client.auth_method.as_str())
            .bind(Json(&client.grant_types))
            .bind(Json(&client.scopes))
            .bind(Json(&client.redirect_uris))
            .bind(Json(&client.post_logout_redirect_uris))
            .bind(Json(&client.audiences))
            .bind(client.jwks.as_ref().map(Json))
            .bind(ttl)
            .bind(client.id_token_signed_response_alg.map(SigningAlgorithm::as_str))
            .bind(client.first_party)
            .bind(client.require_mfa)
            .bind(client.disabled)
            .bind(client.version)
            .bind(client.created_at)
            .bind(client.updated_at)
            .execute(&mut tx)
            .await?;
            if let Some(secret) = secret {
                sqlx::query(INSERT_SECRET)
                    .bind(secret.id)
                    .bind(client.id.as_str())
                    .bind(&secret.digest[..])
                    .bind(secret.created_at)
                    .bind(secret.expires_at)
                    .execute(&mut tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    async fn find_client(&self, id: &ClientId) -> Result<Client, StoreError> {
        let query =
            sqlx::query_as::<_, ClientRow>("SELECT * FROM clients WHERE id = $1").bind(id.as_str());
        bounded(self.timeout, query.fetch_one(self.db()))
            .await?
            .try_into()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let query = sqlx::query_as::<_, ClientRow>("SELECT * FROM clients ORDER BY created_at, id");
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn list_clients_after(
        &self,
        after: Option<&After>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError> {
        let query = match after {
            Some(after) => sqlx::query_as::<_, ClientRow>(
                "SELECT * FROM clients WHERE (created_at, id) > ($1, $2) \
                 ORDER BY created_at, id LIMIT $3",
            )
            .bind(after.created_at)
            .bind(&after.id),
            None => sqlx::query_as::<_, ClientRow>(
                "SELECT * FROM clients ORDER BY created_at, id LIMIT $1",
            ),
        }
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn update_client(
        &self,
        client: &Client,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        let ttl = client
            .access_token_ttl_secs
            .map(|t| i32::try_from(t).unwrap_or(i32::MAX));
        let query = sqlx::query(
            "UPDATE clients SET name = $1, client_type = $2, token_endpoint_auth_method = $3, \
             grant_types = $4, scopes = $5, redirect_uris = $6, post_logout_redirect_uris = $7, \
             audiences = $8, jwks = $9, access_token_ttl_secs = $10, \
             id_token_signed_response_alg = $11, first_party = $12, require_mfa = $13, \
             disabled = $14, updated_at = $15, version = version + 1 WHERE id = $16 AND version = $17",
        )
        .bind(&client.name)
        .bind(client.client_type.as_str())
        .bind(client.auth_method.as_str())
        .bind(Json(&client.grant_types))
        .bind(Json(&client.scopes))
        .bind(Json(&client.redirect_uris))
        .bind(Json(&client.post_logout_redirect_uris))
        .bind(Json(&client.audiences))
        .bind(client.jwks.as_ref().map(Json))
        .bind(ttl)
        .bind(
            client
                .id_token_signed_response_alg
                .map(SigningAlgorithm::as_str),
        )
        .bind(client.first_party)
        .bind(client.require_mfa)
        .bind(client.disabled)
        .bind(client.updated_at)
        .bind(client.id.as_str())
        .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected();
        self.changed_or_why("clients", client.id.as_str(), affected)
            .await
    }

    async fn delete_client(
        &self,
        id: &ClientId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "DELETE FROM clients WHERE id = $1 AND ($2::BIGINT IS NULL OR version = $2)",
        )
        .bind(id.as_str())
        .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(self.db()))
            .await?
            .rows_affected();
        self.changed_or_why("clients", id.as_str(), affected).await
    }

    async fn live_client_secrets(
        &self,
        id: &ClientId,
        now: OffsetDateTime,
    ) -> Result<Vec<ClientSecretRecord>, StoreError> {
        let query = sqlx::query_as::<_, SecretRow>(
            "SELECT id, digest, created_at, expires_at FROM client_secrets \
             WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at",
        )
        .bind(id.as_str())
        .bind(now);
        let rows = bounded(self.timeout, query.fetch_all(self.db())).await?;
        rows.into_iter().map(ClientSecretRecord::try_from).collect()
    }

    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        new: &ClientSecretRecord,
        old_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.begin().await?;
            // Locks the client row: concurrent rotations of one client run one after the other.
            let exists = sqlx::query(
                "UPDATE clients SET updated_at = $1, version = version + 1 WHERE id = $2",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut tx)
            .await?
            .rows_affected();
            if exists == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND expires_at <= $2")
                .bind(id.as_str())
                .bind(now)
                .execute(&mut tx)
                .await?;
            sqlx::query(
                "UPDATE client_secrets SET expires_at = $1 \
                 WHERE client_id = $2 AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind(old_expires_at)
            .bind(id.as_str())
            .execute(&mut tx)
            .await?;
            sqlx::query(INSERT_SECRET)
                .bind(new.id)
                .bind(id.as_str())
                .bind(&new.digest[..])
                .bind(new.created_at)
                .bind(new.expires_at)
                .execute(&mut tx)
                .await?;
            tx.commit().await
        })
        .await
    }
}
