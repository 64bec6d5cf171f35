use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::idempotency::insert_record;
use super::{SqliteStore, from_unix, to_unix};
use crate::crypto::SigningAlgorithm;
use crate::domain::{AuthMethod, Client, ClientId, ClientType};
use crate::store::error::bounded;
use crate::store::{After, ClientSecretRecord, ClientStore, IdempotencyRecord, StoreError};

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    client_type: String,
    token_endpoint_auth_method: String,
    grant_types: String,
    scopes: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    audiences: String,
    jwks: Option<String>,
    id_token_signed_response_alg: Option<String>,
    access_token_ttl_secs: Option<i64>,
    first_party: bool,
    require_mfa: bool,
    disabled: bool,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
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
            grant_types: json(&row.grant_types)?,
            scopes: json(&row.scopes)?,
            redirect_uris: json(&row.redirect_uris)?,
            post_logout_redirect_uris: json(&row.post_logout_redirect_uris)?,
            audiences: json(&row.audiences)?,
            id_token_signed_response_alg: row
                .id_token_signed_response_alg
                .as_deref()
                .map(|alg| SigningAlgorithm::parse(alg).ok_or_else(|| StoreError::corrupt(alg)))
                .transpose()?,
            jwks: row.jwks.as_deref().map(json).transpose()?,
            access_token_ttl_secs: row
                .access_token_ttl_secs
                .map(u32::try_from)
                .transpose()
                .map_err(StoreError::corrupt)?,
            first_party: row.first_party,
            require_mfa: row.require_mfa,
            disabled: row.disabled,
            version: row.version,
            created_at: from_unix(row.created_at)?,
            updated_at: from_unix(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    id: String,
    digest: Vec<u8>,
    created_at: i64,
    expires_at: Option<i64>,
}

impl TryFrom<SecretRow> for ClientSecretRecord {
    type Error = StoreError;

    fn try_from(row: SecretRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: Uuid::parse_str(&row.id).map_err(StoreError::corrupt)?,
            digest: row
                .digest
                .try_into()
                .map_err(|_| StoreError::corrupt("secret digest"))?,
            created_at: from_unix(row.created_at)?,
            expires_at: row.expires_at.map(from_unix).transpose()?,
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

const INSERT_SECRET: &str = "INSERT INTO client_secrets (id, client_id, digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?)";

#[async_trait]
impl ClientStore for SqliteStore {
    async fn insert_client_idempotently(
        &self,
        client: &Client,
        secret: Option<&ClientSecretRecord>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        bounded(self.timeout, async {
            let mut tx = self.pool.begin().await?;
            // First, so the loser of a race on one key waits for the winner and then stops.
            if let Some(record) = idempotency {
                insert_record(&mut tx, record).await?;
            }
            sqlx::query(
                "INSERT INTO clients (id, name, client_type, token_endpoint_auth_method, \
                 grant_types, scopes, redirect_uris, post_logout_redirect_uris, audiences, jwks, \
                 access_token_ttl_secs, id_token_signed_response_alg, first_party, require_mfa, \
                 disabled, version, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(client.id.as_str())
            .bind(&client.name)
            .bind(client.client_type.as_str())
            .bind(client.auth_method.as_str())
            .bind(to_json(&client.grant_types))
            .bind(to_json(&client.scopes))
            .bind(to_json(&client.redirect_uris))
            .bind(to_json(&client.post_logout_redirect_uris))
            .bind(to_json(&client.audiences))
            .bind(client.jwks.as_ref().map(to_json))
            .bind(client.access_token_ttl_secs.map(i64::from))
            .bind(
                client
                    .id_token_signed_response_alg
                    .map(SigningAlgorithm::as_str),
            )
            .bind(client.first_party)
            .bind(client.require_mfa)
            .bind(client.disabled)
            .bind(client.version)
            .bind(to_unix(client.created_at))
            .bind(to_unix(client.updated_at))
            .execute(&mut *tx)
            .await?;
            if let Some(secret) = secret {
                sqlx::query(INSERT_SECRET)
                    .bind(secret.id.to_string())
                    .bind(client.id.as_str())
                    .bind(&secret.digest[..])
                    .bind(to_unix(secret.created_at))
                    .bind(secret.expires_at.map(to_unix))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    async fn find_client(&self, id: &ClientId) -> Result<Client, StoreError> {
        let query =
            sqlx::query_as::<_, ClientRow>("SELECT * FROM clients WHERE id = ?").bind(id.as_str());
        bounded(self.timeout, query.fetch_one(&self.pool))
            .await?
            .try_into()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let query = sqlx::query_as::<_, ClientRow>("SELECT * FROM clients ORDER BY created_at, id");
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn list_clients_after(
        &self,
        after: Option<&After>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError> {
        let query = match after {
            Some(after) => sqlx::query_as::<_, ClientRow>(
                "SELECT * FROM clients WHERE created_at > ? OR (created_at = ? AND id > ?) \
                 ORDER BY created_at, id LIMIT ?",
            )
            .bind(to_unix(after.created_at))
            .bind(to_unix(after.created_at))
            .bind(&after.id),
            None => sqlx::query_as::<_, ClientRow>(
                "SELECT * FROM clients ORDER BY created_at, id LIMIT ?",
            ),
        }
        .bind(i64::from(limit));
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn update_client(
        &self,
        client: &Client,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE clients SET name = ?, client_type = ?, token_endpoint_auth_method = ?, \
             grant_types = ?, scopes = ?, redirect_uris = ?, post_logout_redirect_uris = ?, \
             audiences = ?, jwks = ?, access_token_ttl_secs = ?, id_token_signed_response_alg = ?, \
             first_party = ?, require_mfa = ?, disabled = ?, updated_at = ?, version = version + 1 \
             WHERE id = ? AND version = ?",
        )
        .bind(&client.name)
        .bind(client.client_type.as_str())
        .bind(client.auth_method.as_str())
        .bind(to_json(&client.grant_types))
        .bind(to_json(&client.scopes))
        .bind(to_json(&client.redirect_uris))
        .bind(to_json(&client.post_logout_redirect_uris))
        .bind(to_json(&client.audiences))
        .bind(client.jwks.as_ref().map(to_json))
        .bind(client.access_token_ttl_secs.map(i64::from))
        .bind(
            client
                .id_token_signed_response_alg
                .map(SigningAlgorithm::as_str),
        )
        .bind(client.first_party)
        .bind(client.require_mfa)
        .bind(client.disabled)
        .bind(to_unix(client.updated_at))
        .bind(client.id.as_str())
        .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(&self.pool))
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
        let query = sqlx::query("DELETE FROM clients WHERE id = ? AND (? IS NULL OR version = ?)")
            .bind(id.as_str())
            .bind(expected_version)
            .bind(expected_version);
        let affected = bounded(self.timeout, query.execute(&self.pool))
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
             WHERE client_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
        )
        .bind(id.as_str())
        .bind(to_unix(now));
        let rows = bounded(self.timeout, query.fetch_all(&self.pool)).await?;
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
            let mut tx = self.pool.begin().await?;
            let exists = sqlx::query(
                "UPDATE clients SET updated_at = ?, version = version + 1 WHERE id = ?",
            )
            .bind(to_unix(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if exists == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            sqlx::query("DELETE FROM client_secrets WHERE client_id = ? AND expires_at <= ?")
                .bind(id.as_str())
                .bind(to_unix(now))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE client_secrets SET expires_at = ? \
                 WHERE client_id = ? AND (expires_at IS NULL OR expires_at > ?)",
            )
            .bind(to_unix(old_expires_at))
            .bind(id.as_str())
            .bind(to_unix(old_expires_at))
            .execute(&mut *tx)
            .await?;
            sqlx::query(INSERT_SECRET)
                .bind(new.id.to_string())
                .bind(id.as_str())
                .bind(&new.digest[..])
                .bind(to_unix(new.created_at))
                .bind(new.expires_at.map(to_unix))
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
        .await
    }
}
