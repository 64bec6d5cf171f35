//! The database and the ephemeral store, counted: every call adds one to
//! `gatehouse_backend_calls_total` by backend and operation (the figure that shows a hot path
//! making round trips), and every call that fails (a timeout or an error, not an answer such
//! as "not found") adds one to `gatehouse_backend_errors_total` with the backend's name. Wrapping the traits once counts every caller, background work included.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::metrics::{BackendFailure, Metrics};
use crate::domain::{Client, ClientId, ScopeSet, User, Username};
use crate::ephemeral::{EphemeralError, EphemeralStore};
use crate::store::{
    After, AuditEvent, AuditStore, Change, ChangeKind, ChangeStore, ClientSecretRecord,
    ClientStore, Database, FactorStore, Grant, GrantStore, IdempotencyRecord, IdempotencyStore,
    KeyRevocationOutcome, NewAuditEvent, NewChange, PasskeyStore, RefreshTokenRecord,
    RefreshTokenStore, Rotation, SigningKeyRecord, SigningKeyRevocation, SigningKeyStore,
    StoreError, StoredPasskey, TotpFactor, UserFilter, UserStore,
};

/// `db` with its failures counted in `metrics`.
pub fn counted_database(db: Arc<dyn Database>, metrics: Arc<Metrics>) -> Arc<dyn Database> {
    metrics.backend_in_use(db.backend());
    Arc::new(CountedDatabase { inner: db, metrics })
}

/// `store` with its failures counted in `metrics`.
pub fn counted_ephemeral(
    store: Arc<dyn EphemeralStore>,
    metrics: Arc<Metrics>,
) -> Arc<dyn EphemeralStore> {
    metrics.backend_in_use(store.backend());
    Arc::new(CountedEphemeral {
        inner: store,
        metrics,
    })
}

#[derive(Debug)]
struct CountedDatabase {
    inner: Arc<dyn Database>,
    metrics: Arc<Metrics>,
}

impl CountedDatabase {
    fn count<T>(
        &self,
        operation: &'static str,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.metrics.backend_call(self.inner.backend(), operation);
        let failure = match &result {
            Err(StoreError::Timeout(_)) => Some(BackendFailure::Timeout),
            Err(StoreError::Unavailable(_)) => Some(BackendFailure::Unavailable),
            Err(StoreError::Backend(_)) => Some(BackendFailure::Error),
            _ => None,
        };
        if let Some(failure) = failure {
            self.metrics.backend_error(self.inner.backend(), failure);
        }
        result
    }
}

/// Implements `$role` for `CountedDatabase` by calling the inner store and counting failures;
/// a method added to a role trait is added here in one line.
macro_rules! counted {
    ($role:ident { $(sync fn $plain:ident(&self) -> $plain_ok:ty;)* $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ok:ty;)* }) => {
        #[async_trait]
        impl $role for CountedDatabase {
            $(
                fn $plain(&self) -> $plain_ok {
                    self.inner.$plain()
                }
            )*
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ok, StoreError> {
                    self.count(stringify!($name), self.inner.$name($($arg),*).await)
                }
            )*
        }
    };
}

counted!(ClientStore {
    fn insert_client(&self, client: &Client, secret: Option<&ClientSecretRecord>) -> ();
    fn insert_client_idempotently(&self, client: &Client, secret: Option<&ClientSecretRecord>, idempotency: Option<&IdempotencyRecord>) -> ();
    fn find_client(&self, id: &ClientId) -> Client;
    fn list_clients(&self) -> Vec<Client>;
    fn list_clients_after(&self, after: Option<&After>, limit: u32) -> Vec<Client>;
    fn update_client(&self, client: &Client, expected_version: i64) -> ();
    fn delete_client(&self, id: &ClientId, expected_version: Option<i64>) -> ();
    fn live_client_secrets(&self, id: &ClientId, now: OffsetDateTime) -> Vec<ClientSecretRecord>;
    fn rotate_client_secret(&self, id: &ClientId, new: &ClientSecretRecord, old_expires_at: OffsetDateTime, now: OffsetDateTime) -> ();
});

counted!(UserStore {
    fn insert_user(&self, user: &User) -> ();
    fn insert_user_idempotently(&self, user: &User, idempotency: Option<&IdempotencyRecord>) -> ();
    fn find_user(&self, id: Uuid) -> User;
    fn find_user_by_username(&self, username: &Username) -> User;
    fn list_users(&self) -> Vec<User>;
    fn list_users_after(&self, filter: &UserFilter, after: Option<&After>, limit: u32) -> Vec<User>;
    fn update_user(&self, user: &User, expected_version: i64) -> ();
    fn delete_user(&self, id: Uuid, expected_version: Option<i64>) -> ();
    fn set_password_hash(&self, id: Uuid, hash: &str, now: OffsetDateTime) -> ();
    fn upgrade_password_hash(&self, id: Uuid, old_hash: &str, new_hash: &str, now: OffsetDateTime) -> bool;
});

counted!(GrantStore {
    fn find_live_grant(&self, user_id: Uuid, client_id: &ClientId) -> Option<Grant>;
    fn find_grant(&self, id: Uuid) -> Grant;
    fn upsert_grant(&self, user_id: Uuid, client_id: &ClientId, scopes: &ScopeSet, now: OffsetDateTime) -> Grant;
    fn list_grants(&self, user_id: Uuid) -> Vec<Grant>;
    fn revoke_grant(&self, id: Uuid, now: OffsetDateTime) -> bool;
});

counted!(RefreshTokenStore {
    fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> ();
    fn find_refresh_token(&self, digest: &[u8; 32]) -> RefreshTokenRecord;
    fn rotate_refresh_token(&self, old_id: Uuid, sealed_successor: Option<&[u8]>, new: &RefreshTokenRecord, now: OffsetDateTime) -> Rotation;
    fn revoke_refresh_family(&self, family_id: Uuid, now: OffsetDateTime) -> u64;
});

counted!(SigningKeyStore {
    fn list_signing_keys(&self) -> Vec<SigningKeyRecord>;
    fn insert_signing_key(&self, key: &SigningKeyRecord) -> ();
    fn promote_signing_key(&self, kid: &str, now: OffsetDateTime) -> bool;
    fn delete_signing_keys_retired_before(&self, cutoff: OffsetDateTime) -> u64;
    fn revoke_signing_key(&self, kid: &str, now: OffsetDateTime) -> KeyRevocationOutcome;
    fn list_signing_key_revocations(&self) -> Vec<SigningKeyRevocation>;
});

counted!(AuditStore {
    fn record_audit_event(&self, event: &NewAuditEvent, now: OffsetDateTime) -> AuditEvent;
    fn recent_audit_events(&self, limit: u32) -> Vec<AuditEvent>;
    fn list_audit_events(&self, filter: &crate::store::AuditFilter, before: Option<&After>, limit: u32) -> Vec<AuditEvent>;
    fn delete_audit_events_before(&self, cutoff: OffsetDateTime, limit: u32) -> u64;
});

counted!(ChangeStore {
    sync fn change_bell(&self) -> crate::store::ChangeBell;
    fn record_change(&self, change: &NewChange) -> i64;
    fn changes_after(&self, after: i64, limit: u32) -> Vec<Change>;
    fn change_recorded(&self, kind: ChangeKind, subject: &str, now: OffsetDateTime) -> bool;
    fn last_change_seq(&self) -> i64;
    fn purge_changes(&self, cutoff: OffsetDateTime, limit: u32) -> u64;
});

counted!(IdempotencyStore {
    fn find_idempotency_record(&self, caller: &str, key_digest: &str, now: OffsetDateTime) -> Option<IdempotencyRecord>;
    fn purge_expired_idempotency_records(&self, now: OffsetDateTime, limit: u32) -> u64;
});

counted!(FactorStore {
    fn put_totp_factor(&self, user_id: Uuid, sealed_secret: &[u8], now: OffsetDateTime) -> ();
    fn find_totp_factor(&self, user_id: Uuid) -> Option<TotpFactor>;
    fn confirm_totp_factor(&self, user_id: Uuid, step: i64, now: OffsetDateTime) -> bool;
    fn use_totp_step(&self, user_id: Uuid, step: i64) -> bool;
    fn delete_totp_factor(&self, user_id: Uuid) -> bool;
    fn replace_recovery_codes(&self, user_id: Uuid, digests: &[[u8; 32]], now: OffsetDateTime) -> ();
    fn use_recovery_code(&self, user_id: Uuid, digest: &[u8; 32], now: OffsetDateTime) -> Option<u32>;
    fn count_recovery_codes(&self, user_id: Uuid) -> u32;
    fn delete_recovery_codes(&self, user_id: Uuid) -> u64;
});

counted!(PasskeyStore {
    fn add_passkey(&self, passkey: &StoredPasskey) -> ();
    fn list_passkeys(&self, user_id: Uuid) -> Vec<StoredPasskey>;
    fn find_passkey(&self, credential_id: &[u8]) -> Option<StoredPasskey>;
    fn record_passkey_use(&self, id: Uuid, credential: &serde_json::Value, now: OffsetDateTime) -> bool;
    fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> bool;
    fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> bool;
    fn delete_passkeys(&self, user_id: Uuid) -> u64;
});

#[async_trait]
impl Database for CountedDatabase {
    async fn migrate(&self) -> Result<usize, StoreError> {
        self.count("migrate", self.inner.migrate().await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.count("ping", self.inner.ping().await)
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn is_embedded(&self) -> bool {
        self.inner.is_embedded()
    }
}

#[derive(Debug)]
struct CountedEphemeral {
    inner: Arc<dyn EphemeralStore>,
    metrics: Arc<Metrics>,
}

impl CountedEphemeral {
    fn count<T>(
        &self,
        operation: &'static str,
        result: Result<T, EphemeralError>,
    ) -> Result<T, EphemeralError> {
        self.metrics.backend_call(self.inner.backend(), operation);
        if let Err(error) = &result {
            let failure = match error {
                EphemeralError::Timeout(_) => BackendFailure::Timeout,
                EphemeralError::Unavailable(_) => BackendFailure::Unavailable,
                EphemeralError::Backend(_) => BackendFailure::Error,
            };
            self.metrics.backend_error(self.inner.backend(), failure);
        }
        result
    }
}

#[async_trait]
impl EphemeralStore for CountedEphemeral {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), EphemeralError> {
        self.count("put", self.inner.put(key, value, ttl).await)
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, EphemeralError> {
        self.count(
            "put_if_absent",
            self.inner.put_if_absent(key, value, ttl).await,
        )
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
        self.count("get", self.inner.get(key).await)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
        self.count("take", self.inner.take(key).await)
    }

    async fn delete(&self, key: &str) -> Result<bool, EphemeralError> {
        self.count("delete", self.inner.delete(key).await)
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, EphemeralError> {
        self.count("increment", self.inner.increment(key, ttl).await)
    }

    async fn decrement(&self, key: &str) -> Result<(), EphemeralError> {
        self.count("decrement", self.inner.decrement(key).await)
    }

    async fn ping(&self) -> Result<(), EphemeralError> {
        self.count("ping", self.inner.ping().await)
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that answers some calls and fails others, the way Redis does when it stalls.
    #[derive(Debug)]
    struct Stalling;

    #[async_trait]
    impl EphemeralStore for Stalling {
        async fn put(&self, _: &str, _: &[u8], ttl: Duration) -> Result<(), EphemeralError> {
            Err(EphemeralError::Timeout(ttl))
        }
        async fn put_if_absent(
            &self,
            _: &str,
            _: &[u8],
            _: Duration,
        ) -> Result<bool, EphemeralError> {
            Err(EphemeralError::Backend(anyhow::anyhow!("refused")))
        }
        async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
            Ok(None)
        }
        async fn take(&self, _: &str) -> Result<Option<Vec<u8>>, EphemeralError> {
            Ok(None)
        }
        async fn delete(&self, _: &str) -> Result<bool, EphemeralError> {
            Ok(false)
        }
        async fn increment(&self, _: &str, _: Duration) -> Result<u64, EphemeralError> {
            Ok(1)
        }
        async fn decrement(&self, _: &str) -> Result<(), EphemeralError> {
            Ok(())
        }
        async fn ping(&self) -> Result<(), EphemeralError> {
            Ok(())
        }
        fn backend(&self) -> &'static str {
            "redis"
        }
    }

    #[tokio::test]
    async fn failed_calls_are_counted_by_backend_and_kind_and_answers_are_not() {
        let metrics = Arc::new(Metrics::default());
        let store = counted_ephemeral(Arc::new(Stalling), Arc::clone(&metrics));

        let _ = store.put("k", b"v", Duration::from_secs(1)).await;
        let _ = store.put("k", b"v", Duration::from_secs(1)).await;
        let _ = store.put_if_absent("k", b"v", Duration::from_secs(1)).await;
        let _ = store.get("k").await;
        let _ = store.take("k").await;

        let text = metrics.render().unwrap_or_default();
        assert!(
            text.contains(r#"gatehouse_backend_errors_total{backend="redis",kind="timeout"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"gatehouse_backend_errors_total{backend="redis",kind="error"} 1"#),
            "{text}"
        );
    }
}
