//! Revoking a key: it leaves the JWKS and verification at once (on this instance; on the others
//! at their next reload), and it never comes back. The database keeps the revocation after the
//! key's row, and its sealed private part, are deleted.

use time::OffsetDateTime;

use super::{KeyRing, KeyRingError, RingKey};
use crate::crypto::SigningAlgorithm;
use crate::store::{KeyRevocationOutcome, KeyState, SigningKeyRevocation, StoreError};

/// What revoking a key did.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// When the key was first revoked (an earlier time if it had been revoked before).
    pub revoked_at: OffsetDateTime,
    /// The key that signs instead, when the revoked key was the one signing.
    pub successor: Option<RingKey>,
    /// `false` when the key had already been revoked: nothing changed.
    pub newly_revoked: bool,
}

impl KeyRing {
    /// Distrusts `kid` for good. The key that signs now is first replaced by a successor that
    /// signs at once (the staged one if any, else a new key), so its algorithm is never left
    /// without an active key. Revoking a revoked key changes nothing and reports the first
    /// revocation; a kid never stored (or long deleted) is `UnknownKey`.
    pub async fn revoke(
        &self,
        kid: &str,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Revocation, KeyRingError> {
        let mut successor = None;
        // Two rounds: a staged key may be promoted by another instance between our look and
        // our revocation, and then it needs a successor of its own.
        for _ in 0..2 {
            let records = self.db.list_signing_keys().await?;
            if let Some(key) = records.iter().find(|k| k.kid == kid)
                && key.state == KeyState::Active
            {
                successor = Some(self.rotate(key.algorithm, true, now, actor).await?);
            }
            let outcome =
                self.db
                    .revoke_signing_key(kid, now)
                    .await
                    .map_err(|error| match error {
                        StoreError::NotFound => KeyRingError::UnknownKey {
                            kid: kid.to_owned(),
                        },
                        other => KeyRingError::Store(other),
                    })?;
            let revocation = match outcome {
                KeyRevocationOutcome::Active => continue,
                KeyRevocationOutcome::Revoked(record) => {
                    self.record_revocation(&record, successor.as_ref(), now, actor)
                        .await;
                    revocation(record, successor, true)
                }
                KeyRevocationOutcome::AlreadyRevoked(record) => {
                    revocation(record, successor, false)
                }
            };
            self.announce(kid, now).await?;
            self.reload().await?;
            return Ok(revocation);
        }
        Err(KeyRingError::StillActive {
            kid: kid.to_owned(),
        })
    }

    async fn record_revocation(
        &self,
        record: &SigningKeyRevocation,
        successor: Option<&RingKey>,
        now: OffsetDateTime,
        actor: &str,
    ) {
        if let Some(metrics) = &self.metrics {
            metrics.key_revoked();
        }
        tracing::warn!(
            kid = %record.kid,
            algorithm = %record.algorithm,
            successor = successor.map(|k| k.kid.as_str()),
            "revoked a signing key: everything it signed is refused from now on"
        );
        let details = serde_json::json!({
            "alg": record.algorithm.as_str(),
            "successor": successor.map(|k| k.kid.as_str()),
        });
        self.audit_with(
            actor,
            "signing_key.revoked",
            Some(&record.kid),
            details,
            now,
        )
        .await;
    }
}

fn revocation(
    record: SigningKeyRevocation,
    successor: Option<RingKey>,
    newly_revoked: bool,
) -> Revocation {
    Revocation {
        kid: record.kid,
        algorithm: record.algorithm,
        revoked_at: record.revoked_at,
        successor,
        newly_revoked,
    }
}
