//! The key ring over a real store, on SQLite and on PostgreSQL: first keys, rotation with
//! publish-ahead, retirement, and refusing to start with the wrong key-encryption key.

use std::sync::Arc;

use gatehouse::config::{EncryptionKey, KeySettings};
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::keyring::{KeyRing, KeyRingError};
use gatehouse::store::{Database, KeyState, StoreError};

use crate::durable::{fresh_database, t};

const HOUR: u64 = 3600;

fn settings(dir: &tempfile::TempDir) -> KeySettings {
    KeySettings {
        encryption_key: Some(EncryptionKey::from_bytes([42; 32])),
        encryption_key_file: dir.path().join("keys/encryption.key"),
        ..KeySettings::default()
    }
}

fn states(ring: &KeyRing, algorithm: SigningAlgorithm) -> Vec<KeyState> {
    ring.keys()
        .iter()
        .filter(|k| k.algorithm == algorithm)
        .map(|k| k.state)
        .collect()
}

macro_rules! keyring_suite {
    ($kind:literal: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some((db, dir)) = fresh_database($kind).await {
                    super::$case(db, dir).await;
                }
            }
        )*
    };
}

macro_rules! every_case {
    ($kind:literal) => {
        use super::*;
        keyring_suite!($kind:
            a_new_ring_has_one_active_key_per_configured_algorithm,
            a_rotation_publishes_the_successor_before_it_signs,
            rotating_again_while_a_successor_is_staged_is_refused,
            an_immediate_rotation_signs_with_the_new_key_at_once,
            retired_keys_stay_published_for_their_retention_then_go,
            the_ring_rotates_on_schedule_by_itself,
            a_wrong_key_encryption_key_is_an_error_never_a_new_key,
            revoking_the_signing_key_promotes_a_successor_first,
            a_revoked_key_is_never_listed_promoted_or_stored_again,
            a_second_ring_on_the_same_database_sees_a_revocation_once_it_reloads,
        );
    };
}

mod sqlite {
    every_case!("sqlite");
}

mod postgres {
    every_case!("postgres");
}

/// The same through a transaction-mode pooler (`database.pooler = "transaction"`).
mod postgres_pooler {
    every_case!("postgres_pooler");
}

async fn a_new_ring_has_one_active_key_per_configured_algorithm(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let ring = KeyRing::open(db.clone(), &settings(&dir)).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    ring.maintain(t(1), "test").await.unwrap();

    assert_eq!(states(&ring, SigningAlgorithm::Es256), [KeyState::Active]);
    assert_eq!(states(&ring, SigningAlgorithm::Rs256), [KeyState::Active]);
    assert!(ring.active_key(SigningAlgorithm::EdDsa).is_none());
    let audit = db.recent_audit_events(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event.action == "signing_key.created")
            .count(),
        2
    );
}

async fn a_rotation_publishes_the_successor_before_it_signs(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let settings = settings(&dir);
    let ring = KeyRing::open(db.clone(), &settings).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let old = ring.active_key(SigningAlgorithm::Es256).unwrap();

    let next = ring
        .rotate(SigningAlgorithm::Es256, false, t(10), "test")
        .await
        .unwrap();

    assert_eq!(next.state, KeyState::Next);
    assert!(ring.jwks_json().contains(&next.kid), "published at once");
    assert_eq!(
        ring.active_key(SigningAlgorithm::Es256).unwrap().kid(),
        old.kid()
    );
    let ahead = settings.publish_ahead_secs as i64;
    ring.maintain(t(10 + ahead - 1), "test").await.unwrap();
    assert_eq!(
        ring.active_key(SigningAlgorithm::Es256).unwrap().kid(),
        old.kid()
    );

    ring.maintain(t(10 + ahead), "test").await.unwrap();

    assert_eq!(
        ring.active_key(SigningAlgorithm::Es256).unwrap().kid(),
        next.kid
    );
    let jwks = ring.jwks_json();
    assert!(jwks.contains(old.kid()), "the retired key stays published");
    let mut es = states(&ring, SigningAlgorithm::Es256);
    es.sort_by_key(|s| s.as_str());
    assert_eq!(es, [KeyState::Active, KeyState::Retired]);
}

async fn rotating_again_while_a_successor_is_staged_is_refused(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let ring = KeyRing::open(db, &settings(&dir)).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let staged = ring
        .rotate(SigningAlgorithm::Es256, false, t(1), "test")
        .await
        .unwrap();

    let again = ring
        .rotate(SigningAlgorithm::Es256, false, t(2), "test")
        .await;

    match again {
        Err(KeyRingError::AlreadyStaged { kid, .. }) => assert_eq!(kid, staged.kid),
        other => panic!("expected AlreadyStaged, got {other:?}"),
    }
    assert_eq!(ring.keys().len(), 3);
}

async fn an_immediate_rotation_signs_with_the_new_key_at_once(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let ring = KeyRing::open(db, &settings(&dir)).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let old = ring.active_key(SigningAlgorithm::Rs256).unwrap();

    let new = ring
        .rotate(SigningAlgorithm::Rs256, true, t(5), "test")
        .await
        .unwrap();

    assert_eq!(new.state, KeyState::Active);
    assert_eq!(
        ring.active_key(SigningAlgorithm::Rs256).unwrap().kid(),
        new.kid
    );
    assert_ne!(new.kid, old.kid());
    let retired = ring
        .keys()
        .into_iter()
        .find(|k| k.kid == old.kid())
        .unwrap();
    assert_eq!(retired.state, KeyState::Retired);
}

async fn retired_keys_stay_published_for_their_retention_then_go(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let settings = settings(&dir);
    let ring = KeyRing::open(db, &settings).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let old = ring.active_key(SigningAlgorithm::Es256).unwrap();
    ring.rotate(SigningAlgorithm::Es256, true, t(100), "test")
        .await
        .unwrap();
    let retain = settings.retain_retired_secs as i64;

    ring.maintain(t(100 + retain), "test").await.unwrap();
    assert!(ring.published_key(old.kid()).is_some());

    ring.maintain(t(100 + retain + 1), "test").await.unwrap();
    assert!(ring.published_key(old.kid()).is_none());
    assert!(!ring.jwks_json().contains(old.kid()));
}

async fn the_ring_rotates_on_schedule_by_itself(db: Arc<dyn Database>, dir: tempfile::TempDir) {
    let settings = KeySettings {
        rotation_interval_secs: 10 * HOUR,
        publish_ahead_secs: 2 * HOUR,
        ..settings(&dir)
    };
    let ring = KeyRing::open(db, &settings).await.unwrap();
    ring.maintain(t(0), "system").await.unwrap();
    let first = ring.active_key(SigningAlgorithm::Es256).unwrap();

    ring.maintain(t(8 * HOUR as i64), "system").await.unwrap();
    let staged: Vec<_> = ring
        .keys()
        .into_iter()
        .filter(|k| k.state == KeyState::Next)
        .collect();
    assert_eq!(staged.len(), 2, "one successor per algorithm");
    assert_eq!(staged[0].activates_at, t(10 * HOUR as i64));

    ring.maintain(t(10 * HOUR as i64), "system").await.unwrap();
    let second = ring.active_key(SigningAlgorithm::Es256).unwrap();
    assert_ne!(first.kid(), second.kid());
}

async fn a_wrong_key_encryption_key_is_an_error_never_a_new_key(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let settings = settings(&dir);
    let ring = KeyRing::open(db.clone(), &settings).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let before = db.list_signing_keys().await.unwrap().len();

    let wrong = KeySettings {
        encryption_key: Some(EncryptionKey::from_bytes([7; 32])),
        ..settings
    };
    let opened = KeyRing::open(db.clone(), &wrong).await;

    assert!(
        matches!(opened, Err(KeyRingError::Unseal { .. })),
        "{opened:?}"
    );
    assert_eq!(db.list_signing_keys().await.unwrap().len(), before);
}

#[tokio::test]
async fn postgres_requires_a_configured_key_encryption_key() {
    let Some((db, dir)) = fresh_database("postgres").await else {
        return;
    };
    let settings = KeySettings {
        encryption_key: None,
        ..settings(&dir)
    };

    let opened = KeyRing::open(db, &settings).await;

    assert!(
        matches!(opened, Err(KeyRingError::KekRequired)),
        "{opened:?}"
    );
    assert!(
        !settings.encryption_key_file.exists(),
        "no local key file for PostgreSQL"
    );
}

#[tokio::test]
async fn the_embedded_default_creates_its_key_file_once_and_refuses_to_lose_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let (db, dir) = fresh_database("sqlite").await.unwrap();
    let settings = KeySettings {
        encryption_key: None,
        ..settings(&dir)
    };
    let ring = KeyRing::open(db.clone(), &settings).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let file = &settings.encryption_key_file;
    let mode = std::fs::metadata(file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let reopened = KeyRing::open(db.clone(), &settings).await.unwrap();
    assert_eq!(reopened.jwks_json(), ring.jwks_json());

    std::fs::remove_file(file).unwrap();
    let without_file = KeyRing::open(db.clone(), &settings).await;
    assert!(
        matches!(without_file, Err(KeyRingError::KekFile { .. })),
        "{without_file:?}"
    );
    assert!(!file.exists(), "no new key-encryption key was made");
}

async fn revoking_the_signing_key_promotes_a_successor_first(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let ring = KeyRing::open(db.clone(), &settings(&dir)).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let staged = ring
        .rotate(SigningAlgorithm::Es256, false, t(1), "test")
        .await
        .unwrap();
    let old = ring.active_key(SigningAlgorithm::Es256).unwrap();

    let revoked = ring.revoke(old.kid(), t(2), "test").await.unwrap();

    assert!(revoked.newly_revoked);
    assert_eq!(revoked.revoked_at, t(2));
    let successor = revoked.successor.unwrap();
    assert_eq!(successor.kid, staged.kid, "the staged key takes over");
    assert_eq!(
        ring.active_key(SigningAlgorithm::Es256).unwrap().kid(),
        staged.kid
    );
    assert_eq!(states(&ring, SigningAlgorithm::Es256), [KeyState::Active]);
    assert!(ring.is_revoked(old.kid()));
    assert!(ring.verifying_key(old.kid(), t(2)).await.is_none());
    assert!(ring.verifying_key(&staged.kid, t(2)).await.is_some());
    let audit = db.recent_audit_events(10).await.unwrap();
    let event = &audit
        .iter()
        .find(|e| e.event.action == "signing_key.revoked")
        .unwrap()
        .event;
    assert_eq!(event.target_id.as_deref(), Some(old.kid()));
    assert_eq!(event.details["successor"], staged.kid.as_str());
}

async fn a_revoked_key_is_never_listed_promoted_or_stored_again(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let ring = KeyRing::open(db.clone(), &settings(&dir)).await.unwrap();
    ring.maintain(t(0), "test").await.unwrap();
    let staged = ring
        .rotate(SigningAlgorithm::Rs256, false, t(1), "test")
        .await
        .unwrap();
    let record = db
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == staged.kid)
        .unwrap();

    let revoked = ring.revoke(&staged.kid, t(2), "test").await.unwrap();
    let again = ring.revoke(&staged.kid, t(3), "test").await.unwrap();

    assert!(revoked.successor.is_none(), "a staged key signs nothing");
    assert!(!again.newly_revoked);
    assert_eq!(again.revoked_at, t(2), "the first revocation stands");
    assert!(!db.promote_signing_key(&staged.kid, t(4)).await.unwrap());
    let stored_again = db.insert_signing_key(&record).await;
    assert!(
        matches!(stored_again, Err(StoreError::Conflict { .. })),
        "{stored_again:?}"
    );
    let listed = db.list_signing_keys().await.unwrap();
    assert!(listed.iter().all(|k| k.kid != staged.kid));
    let revocations = db.list_signing_key_revocations().await.unwrap();
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0].kid, staged.kid);
    // the schedule stages a new successor, never the revoked one
    ring.maintain(t(40 * 24 * HOUR as i64), "test")
        .await
        .unwrap();
    assert!(ring.published_key(&staged.kid).is_none());
    assert!(!ring.jwks_json().contains(&staged.kid));
    assert_eq!(
        states(&ring, SigningAlgorithm::Rs256).len(),
        2,
        "active and a new next"
    );
    match ring.revoke("no-such-kid", t(5), "test").await {
        Err(KeyRingError::UnknownKey { kid }) => assert_eq!(kid, "no-such-kid"),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
}

async fn a_second_ring_on_the_same_database_sees_a_revocation_once_it_reloads(
    db: Arc<dyn Database>,
    dir: tempfile::TempDir,
) {
    let a = KeyRing::open(db.clone(), &settings(&dir)).await.unwrap();
    a.maintain(t(0), "test").await.unwrap();
    let b = KeyRing::open(db.clone(), &settings(&dir)).await.unwrap();
    let old = a.active_key(SigningAlgorithm::Es256).unwrap();
    assert!(b.verifying_key(old.kid(), t(1)).await.is_some());

    let revoked = a.revoke(old.kid(), t(1), "test").await.unwrap();
    let successor = revoked.successor.unwrap();

    // an unknown kid reloads by itself; a known one waits for the announcement
    assert!(b.verifying_key(&successor.kid, t(1)).await.is_some());
    assert!(b.verifying_key(old.kid(), t(1)).await.is_none());
    assert_eq!(
        b.active_key(SigningAlgorithm::Es256).unwrap().kid(),
        successor.kid
    );
}
