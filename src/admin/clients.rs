//! Registering and managing clients.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

mod validate;

pub use self::validate::{validate_new_client, validate_replacement};
use super::{
    AdminError, Page, PageRequest, Problems, Remember, apply_merge_patch, audit, cut_off,
    note_changed,
};
use crate::crypto::{PlainSecret, SigningAlgorithm};
use crate::domain::{Client, ClientId, ClientType};
use crate::store::{ChangeKind, ClientSecretRecord, Database, IDEMPOTENCY_CONFLICT, StoreError};

pub use crate::domain::{ADMIN_READ_SCOPE, ADMIN_SCOPE};

/// The audience (RFC 8707 resource) of the `/v1` admin API, which its tokens must carry.
pub fn admin_api_audience(issuer: &str) -> String {
    format!("{}/v1", issuer.trim_end_matches('/'))
}

/// Whether `scopes` hold one of the admin API's scopes.
pub fn has_admin_scope(scopes: &crate::domain::ScopeSet) -> bool {
    scopes.contains(ADMIN_SCOPE) || scopes.contains(ADMIN_READ_SCOPE)
}

/// The longest access-token lifetime a client may ask for: one day.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u32 = 86_400;

/// What a caller asks for when registering a client; every field is checked by
/// [`validate_new_client`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub client_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub access_token_ttl_secs: Option<u32>,
    pub id_token_signed_response_alg: Option<String>,
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub first_party: bool,
    /// Every sign-in to it needs a second factor (`urn:gatehouse:acr:mfa`, OIDC Core §2 `acr`).
    #[serde(default)]
    pub require_mfa: bool,
    /// Registered disabled: it can do nothing until enabled.
    #[serde(default)]
    pub disabled: bool,
}

/// A client just created, with its secret: the only time the secret is seen.
#[derive(Debug)]
pub struct CreatedClient {
    pub client: Client,
    pub secret: Option<PlainSecret>,
}

/// A rotated secret, and until when the previous ones are still accepted.
#[derive(Debug)]
pub struct RotatedSecret {
    pub secret: PlainSecret,
    pub previous_expire_at: OffsetDateTime,
}

/// `signing`: the algorithms this server signs with (`keys.algorithms`), which an
/// `id_token_signed_response_alg` must be one of.
pub async fn create_client(
    db: &dyn Database,
    request: NewClient,
    signing: &[SigningAlgorithm],
    actor: &str,
    now: OffsetDateTime,
) -> Result<CreatedClient, AdminError> {
    insert_new_client(db, request, signing, None, actor, now, None).await
}

/// As [`create_client`], storing the idempotency record `remember` makes of the result (if
/// any) in the same transaction as the client. A live record for the same caller and key is a
/// `Conflict` and creates nothing.
pub async fn create_client_once(
    db: &dyn Database,
    request: NewClient,
    signing: &[SigningAlgorithm],
    actor: &str,
    now: OffsetDateTime,
    remember: Option<Remember<CreatedClient>>,
) -> Result<CreatedClient, AdminError> {
    insert_new_client(db, request, signing, None, actor, now, remember).await
}

/// As [`create_client`], with `secret` (a declared one) instead of a generated one.
pub async fn create_client_with_secret(
    db: &dyn Database,
    request: NewClient,
    signing: &[SigningAlgorithm],
    secret: Option<PlainSecret>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<CreatedClient, AdminError> {
    insert_new_client(db, request, signing, secret, actor, now, None).await
}

async fn insert_new_client(
    db: &dyn Database,
    request: NewClient,
    signing: &[SigningAlgorithm],
    secret: Option<PlainSecret>,
    actor: &str,
    now: OffsetDateTime,
    remember: Option<Remember<CreatedClient>>,
) -> Result<CreatedClient, AdminError> {
    let client = validate_new_client(request, signing, now)?;
    check_secret_allowed(&client, secret.is_some())?;
    let secret = client
        .auth_method
        .uses_secret()
        .then(|| secret.unwrap_or_else(PlainSecret::generate));
    let record = secret.as_ref().map(|s| ClientSecretRecord {
        id: Uuid::now_v7(),
        digest: s.digest(),
        created_at: now,
        expires_at: None,
    });
    let created = CreatedClient { client, secret };
    let idempotency = remember.map(|remember| remember(&created)).transpose()?;
    db.insert_client_idempotently(&created.client, record.as_ref(), idempotency.as_ref())
        .await
        .map_err(|error| match error {
            StoreError::Conflict { constraint } if constraint == IDEMPOTENCY_CONFLICT => {
                AdminError::Conflict("a request with this Idempotency-Key was completed".into())
            }
            StoreError::Conflict { .. } => AdminError::Conflict("client_id is taken".into()),
            other => other.into(),
        })?;
    // Every instance learns of it: a public client's redirect origins open CORS (`current`).
    note_changed(
        db,
        ChangeKind::ClientChanged,
        created.client.id.as_str(),
        now,
    )
    .await?;
    audit(
        db,
        actor,
        "client.created",
        "client",
        created.client.id.as_str(),
        now,
    )
    .await;
    Ok(created)
}

pub async fn find_client(db: &dyn Database, id: &str) -> Result<Client, AdminError> {
    let id = ClientId::parse(id).map_err(|_| AdminError::NotFound)?;
    Ok(db.find_client(&id).await?)
}

/// Every client, oldest first (the CLI's list).
pub async fn list_all_clients(db: &dyn Database) -> Result<Vec<Client>, AdminError> {
    Ok(db.list_clients().await?)
}

/// One page of clients, oldest first.
pub async fn list_clients(
    db: &dyn Database,
    page: &PageRequest,
) -> Result<Page<Client>, AdminError> {
    let fetched = db
        .list_clients_after(page.store_after(), page.limit + 1)
        .await?;
    Ok(Page::from_fetched(fetched, page.limit, |c| {
        (c.created_at, c.id.to_string())
    }))
}

/// What a client may be changed to: everything but its id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientChanges {
    pub name: String,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub access_token_ttl_secs: Option<u32>,
    pub id_token_signed_response_alg: Option<String>,
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub first_party: bool,
    /// Every sign-in to it needs a second factor (`urn:gatehouse:acr:mfa`, OIDC Core §2 `acr`).
    #[serde(default)]
    pub require_mfa: bool,
    /// A disabled client can do nothing, and its tokens are refused.
    #[serde(default)]
    pub disabled: bool,
}

impl From<&Client> for ClientChanges {
    fn from(client: &Client) -> Self {
        let strings = |items: Vec<&str>| items.into_iter().map(str::to_owned).collect();
        Self {
            name: client.name.clone(),
            public: client.client_type == ClientType::Public,
            grant_types: strings(client.grant_types.iter().map(|g| g.as_str()).collect()),
            scopes: strings(client.scopes.iter().map(|s| s.as_str()).collect()),
            redirect_uris: strings(client.redirect_uris.iter().map(|u| u.as_str()).collect()),
            post_logout_redirect_uris: strings(
                client
                    .post_logout_redirect_uris
                    .iter()
                    .map(|u| u.as_str())
                    .collect(),
            ),
            audiences: strings(client.audiences.iter().map(|a| a.as_str()).collect()),
            token_endpoint_auth_method: Some(client.auth_method.as_str().to_owned()),
            access_token_ttl_secs: client.access_token_ttl_secs,
            id_token_signed_response_alg: client
                .id_token_signed_response_alg
                .map(|a| a.as_str().to_owned()),
            jwks: client.jwks.clone(),
            first_party: client.first_party,
            require_mfa: client.require_mfa,
            disabled: client.disabled,
        }
    }
}

/// `PUT`: replaces everything but the id, validated as a whole like a registration. A client
/// cannot move between having a secret and having none: that is a new client. An
/// `id_token_signed_response_alg` it already had is kept even when `signing` no longer holds
/// it, so that such a client can still be fixed, disabled or changed otherwise.
pub async fn replace_client(
    db: &dyn Database,
    id: &str,
    changes: ClientChanges,
    signing: &[SigningAlgorithm],
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Client, AdminError> {
    let current = find_client(db, id).await?;
    let expected = expected_version.unwrap_or(current.version);
    if expected != current.version {
        return Err(AdminError::PreconditionFailed);
    }
    let request = NewClient {
        client_id: Some(current.id.to_string()),
        name: changes.name,
        public: changes.public,
        grant_types: changes.grant_types,
        scopes: changes.scopes,
        redirect_uris: changes.redirect_uris,
        post_logout_redirect_uris: changes.post_logout_redirect_uris,
        audiences: changes.audiences,
        token_endpoint_auth_method: changes.token_endpoint_auth_method,
        access_token_ttl_secs: changes.access_token_ttl_secs,
        id_token_signed_response_alg: changes.id_token_signed_response_alg,
        jwks: changes.jwks,
        first_party: changes.first_party,
        require_mfa: changes.require_mfa,
        disabled: changes.disabled,
    };
    let kept = current.id_token_signed_response_alg.into_iter();
    let signing: Vec<SigningAlgorithm> = signing.iter().copied().chain(kept).collect();
    let mut replaced = validate_replacement(request, &signing, now)?;
    check_secret_kept(&current, &replaced)?;
    replaced.created_at = current.created_at;
    replaced.version = current.version + 1;
    take_away(db, &current, &replaced, now).await?;
    db.update_client(&replaced, expected).await?;
    note_changed(db, ChangeKind::ClientChanged, current.id.as_str(), now).await?;
    audit(
        db,
        actor,
        "client.updated",
        "client",
        current.id.as_str(),
        now,
    )
    .await;
    Ok(replaced)
}

/// What a change of registration takes away takes effect at once for the tokens already
/// issued: disabling ends all of them, removing a scope ends those that carry it.
async fn take_away(
    db: &dyn Database,
    current: &Client,
    replaced: &Client,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    if replaced.disabled && !current.disabled {
        cut_off(db, ChangeKind::Client, current.id.as_str(), now).await?;
    }
    for scope in current.scopes.iter() {
        if !replaced.scopes.contains(scope.as_str()) {
            let subject = crate::current::scope_subject(current.id.as_str(), scope.as_str());
            cut_off(db, ChangeKind::Scope, &subject, now).await?;
        }
    }
    Ok(())
}

/// Only clients authenticating with a shared secret are given one.
pub(crate) fn check_secret_allowed(client: &Client, given: bool) -> Result<(), AdminError> {
    let mut problems = Problems::default();
    if given && !client.auth_method.uses_secret() {
        problems.add(
            "client_secret",
            format!("a {} client has no secret", client.auth_method),
        );
    }
    problems.into_result()
}

/// A client cannot move between having a secret and having none: that is a new client.
pub(crate) fn check_secret_kept(current: &Client, replaced: &Client) -> Result<(), AdminError> {
    let mut problems = Problems::default();
    if replaced.auth_method.uses_secret() != current.auth_method.uses_secret() {
        problems.add(
            "token_endpoint_auth_method",
            format!(
                "cannot change from {} to {}: register a new client instead",
                current.auth_method, replaced.auth_method
            ),
        );
    }
    problems.into_result()
}

/// `PATCH` with a JSON Merge Patch (RFC 7396) over the client's [`ClientChanges`] form.
pub async fn patch_client(
    db: &dyn Database,
    id: &str,
    patch: &serde_json::Value,
    signing: &[SigningAlgorithm],
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Client, AdminError> {
    let current = find_client(db, id).await?;
    let changes: ClientChanges = apply_merge_patch(&ClientChanges::from(&current), patch)?;
    replace_client(
        db,
        id,
        changes,
        signing,
        expected_version.or(Some(current.version)),
        actor,
        now,
    )
    .await
}

pub async fn delete_client(
    db: &dyn Database,
    id: &str,
    expected_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let id = ClientId::parse(id).map_err(|_| AdminError::NotFound)?;
    let current = db.find_client(&id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(AdminError::PreconditionFailed);
    }
    // Every token of the client ends now, on every instance, before the client goes.
    cut_off(db, ChangeKind::Client, id.as_str(), now).await?;
    db.delete_client(&id, expected_version).await?;
    // An instance that read the client again between the cut-off and the delete drops it now.
    note_changed(db, ChangeKind::ClientChanged, id.as_str(), now).await?;
    audit(db, actor, "client.deleted", "client", id.as_str(), now).await;
    Ok(())
}

/// Issues a new secret; the previous ones stay valid for `overlap` so deployed clients can roll
/// over without downtime (zero ends them at once, e.g. after a leak).
pub async fn rotate_client_secret(
    db: &dyn Database,
    id: &str,
    overlap: Duration,
    actor: &str,
    now: OffsetDateTime,
) -> Result<RotatedSecret, AdminError> {
    rotate_client_secret_to(db, id, PlainSecret::generate(), overlap, actor, now).await
}

/// As [`rotate_client_secret`], to `secret` (a declared one) instead of a generated one.
pub async fn rotate_client_secret_to(
    db: &dyn Database,
    id: &str,
    secret: PlainSecret,
    overlap: Duration,
    actor: &str,
    now: OffsetDateTime,
) -> Result<RotatedSecret, AdminError> {
    let client = find_client(db, id).await?;
    if !client.auth_method.uses_secret() {
        let mut problems = Problems::default();
        problems.add(
            "token_endpoint_auth_method",
            format!("a {} client has no secret to rotate", client.auth_method),
        );
        problems.into_result()?;
    }
    let record = ClientSecretRecord {
        id: Uuid::now_v7(),
        digest: secret.digest(),
        created_at: now,
        expires_at: None,
    };
    let previous_expire_at = now + overlap;
    db.rotate_client_secret(&client.id, &record, previous_expire_at, now)
        .await?;
    // Every instance reads the secrets again: with no overlap the old one stops everywhere.
    note_changed(db, ChangeKind::ClientChanged, client.id.as_str(), now).await?;
    audit(
        db,
        actor,
        "client.secret_rotated",
        "client",
        client.id.as_str(),
        now,
    )
    .await;
    Ok(RotatedSecret {
        secret,
        previous_expire_at,
    })
}
