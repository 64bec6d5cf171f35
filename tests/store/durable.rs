//! The durable store's contract, run on SQLite and on PostgreSQL.

use std::sync::Arc;

use gatehouse::config::{DatabaseSettings, DatabaseUrl, Pooler};
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::store::{self, Database, KeyState, NewAuditEvent, SigningKeyRecord, StoreError};
use time::OffsetDateTime;

/// A migrated, empty database of `kind`, or `None` to skip: "sqlite", "postgres", or
/// "postgres_pooler" (PostgreSQL reached through a transaction-mode pooler, migrated directly).
pub async fn fresh_database(kind: &str) -> Option<(Arc<dyn Database>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let settings = match kind {
        "sqlite" => DatabaseSettings {
            url: DatabaseUrl::Sqlite(format!(
                "sqlite://{}",
                dir.path().join("gatehouse.db").display()
            )),
            ..DatabaseSettings::default()
        },
        "postgres" => DatabaseSettings {
            url: DatabaseUrl::Postgres(
                crate::common::fresh_postgres_database(&crate::common::postgres_url()?).await,
            ),
            ..DatabaseSettings::default()
        },
        "postgres_pooler" => {
            let pooler = crate::common::postgres_pooler_url()?;
            let direct =
                crate::common::fresh_postgres_database(&crate::common::postgres_url()?).await;
            DatabaseSettings {
                url: DatabaseUrl::Postgres(crate::common::same_database_via(&direct, &pooler)),
                pooler: Pooler::Transaction,
                direct_url: Some(DatabaseUrl::Postgres(direct)),
                ..DatabaseSettings::default()
            }
        }
        other => panic!("no database kind {other}"),
    };
    Some((store::connect(&settings).await.unwrap(), dir))
}

pub fn t(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
}

fn key(kid: &str, algorithm: SigningAlgorithm, state: KeyState, at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        algorithm,
        state,
        public_jwk: serde_json::json!({"kid": kid, "kty": "EC"}),
        sealed_private_key: vec![1, 2, 3, 4],
        created_at: t(at),
        activates_at: t(at),
        retired_at: (state == KeyState::Retired).then(|| t(at)),
    }
}

const ES: SigningAlgorithm = SigningAlgorithm::Es256;

/// One `#[tokio::test]` per case, each given a fresh database of `$kind` (or skipped when that
/// backend is not here): the cases are `super::$case(db)` of the module that calls it.
#[macro_export]
macro_rules! store_suite {
    ($kind:literal: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some((db, _dir)) = $crate::durable::fresh_database($kind).await {
                    super::$case(db).await;
                }
            }
        )*
    };
}

/// A user named `name`, stored in `db`.
pub async fn with_user(db: &Arc<dyn Database>, name: &str) -> gatehouse::domain::User {
    let request = gatehouse::admin::users::NewUser {
        username: name.into(),
        email: None,
        email_verified: false,
        display_name: None,
        claims: serde_json::Map::new(),
    };
    let user = gatehouse::admin::users::validate_new_user(request, None, t(0)).unwrap();
    db.insert_user(&user).await.unwrap();
    user
}

macro_rules! durable_suite {
    ($kind:literal: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some((db, _dir)) = crate::durable::fresh_database($kind).await {
                    crate::durable::$case(db).await;
                }
            }
        )*
    };
}

macro_rules! every_case {
    ($kind:literal) => {
        durable_suite!($kind:
            migrations_are_applied_once,
            ping_answers,
            signing_keys_list_back_as_stored,
            a_second_active_key_for_one_algorithm_is_a_conflict,
            promotion_retires_the_previous_active_key,
            a_key_is_promoted_only_once_even_concurrently,
            promoting_a_key_that_is_not_next_changes_nothing,
            retired_keys_are_deleted_only_after_the_cutoff,
            audit_events_list_newest_first,
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

pub async fn migrations_are_applied_once(db: Arc<dyn Database>) {
    assert_eq!(db.migrate().await.unwrap(), 0, "connect already migrated");
    assert_eq!(db.migrate().await.unwrap(), 0);
}

pub async fn ping_answers(db: Arc<dyn Database>) {
    db.ping().await.unwrap();
}

pub async fn signing_keys_list_back_as_stored(db: Arc<dyn Database>) {
    let stored = key("k1", ES, KeyState::Active, 0);
    db.insert_signing_key(&stored).await.unwrap();
    db.insert_signing_key(&key("k0", SigningAlgorithm::Rs256, KeyState::Retired, 5))
        .await
        .unwrap();

    let listed = db.list_signing_keys().await.unwrap();

    assert_eq!(listed.len(), 2);
    let got = &listed[0];
    assert_eq!(got.kid, "k1", "oldest first");
    assert_eq!(got.algorithm, ES);
    assert_eq!(got.state, KeyState::Active);
    assert_eq!(got.public_jwk, stored.public_jwk);
    assert_eq!(got.sealed_private_key, stored.sealed_private_key);
    assert_eq!(got.created_at, stored.created_at);
    assert_eq!(got.activates_at, stored.activates_at);
    assert_eq!(got.retired_at, None);
    assert_eq!(listed[1].retired_at, Some(t(5)));
}

pub async fn a_second_active_key_for_one_algorithm_is_a_conflict(db: Arc<dyn Database>) {
    db.insert_signing_key(&key("a", ES, KeyState::Active, 0))
        .await
        .unwrap();
    db.insert_signing_key(&key("n", ES, KeyState::Next, 0))
        .await
        .unwrap();
    db.insert_signing_key(&key("r", SigningAlgorithm::Rs256, KeyState::Active, 0))
        .await
        .unwrap();

    let second_active = db
        .insert_signing_key(&key("b", ES, KeyState::Active, 1))
        .await;
    let second_next = db
        .insert_signing_key(&key("m", ES, KeyState::Next, 1))
        .await;

    assert!(
        matches!(second_active, Err(StoreError::Conflict { .. })),
        "{second_active:?}"
    );
    assert!(
        matches!(second_next, Err(StoreError::Conflict { .. })),
        "{second_next:?}"
    );
    assert_eq!(db.list_signing_keys().await.unwrap().len(), 3);
}

pub async fn promotion_retires_the_previous_active_key(db: Arc<dyn Database>) {
    db.insert_signing_key(&key("old", ES, KeyState::Active, 0))
        .await
        .unwrap();
    db.insert_signing_key(&key("new", ES, KeyState::Next, 10))
        .await
        .unwrap();
    db.insert_signing_key(&key("rsa", SigningAlgorithm::Rs256, KeyState::Active, 0))
        .await
        .unwrap();

    assert!(db.promote_signing_key("new", t(20)).await.unwrap());

    let keys = db.list_signing_keys().await.unwrap();
    let find = |kid: &str| keys.iter().find(|k| k.kid == kid).unwrap();
    assert_eq!(find("old").state, KeyState::Retired);
    assert_eq!(find("old").retired_at, Some(t(20)));
    assert_eq!(find("new").state, KeyState::Active);
    assert_eq!(find("new").activates_at, t(20));
    assert_eq!(
        find("rsa").state,
        KeyState::Active,
        "other algorithms untouched"
    );
}

pub async fn a_key_is_promoted_only_once_even_concurrently(db: Arc<dyn Database>) {
    db.insert_signing_key(&key("old", ES, KeyState::Active, 0))
        .await
        .unwrap();
    db.insert_signing_key(&key("new", ES, KeyState::Next, 10))
        .await
        .unwrap();

    let (a, b) = tokio::join!(
        db.promote_signing_key("new", t(20)),
        db.promote_signing_key("new", t(21)),
    );

    let wins = [a, b].into_iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(wins, 1);
    let keys = db.list_signing_keys().await.unwrap();
    let active: Vec<_> = keys
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].kid, "new");
}

pub async fn promoting_a_key_that_is_not_next_changes_nothing(db: Arc<dyn Database>) {
    db.insert_signing_key(&key("a", ES, KeyState::Active, 0))
        .await
        .unwrap();

    assert!(!db.promote_signing_key("a", t(5)).await.unwrap());
    assert!(!db.promote_signing_key("missing", t(5)).await.unwrap());

    let keys = db.list_signing_keys().await.unwrap();
    assert_eq!(keys[0].state, KeyState::Active);
    assert_eq!(keys[0].activates_at, t(0));
}

pub async fn retired_keys_are_deleted_only_after_the_cutoff(db: Arc<dyn Database>) {
    db.insert_signing_key(&key("r1", ES, KeyState::Retired, 0))
        .await
        .unwrap();
    db.insert_signing_key(&key("r2", SigningAlgorithm::Rs256, KeyState::Retired, 100))
        .await
        .unwrap();
    db.insert_signing_key(&key("a", ES, KeyState::Active, 0))
        .await
        .unwrap();

    assert_eq!(
        db.delete_signing_keys_retired_before(t(0)).await.unwrap(),
        0
    );
    assert_eq!(
        db.delete_signing_keys_retired_before(t(50)).await.unwrap(),
        1
    );

    let kids: Vec<_> = db
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["a", "r2"]);
}

pub async fn audit_events_list_newest_first(db: Arc<dyn Database>) {
    let event = |action: &str| NewAuditEvent {
        actor: "cli".into(),
        action: action.into(),
        target_type: "signing_key".into(),
        target_id: Some("kid-1".into()),
        request_id: None,
        details: serde_json::json!({"reason": "test"}),
    };
    db.record_audit_event(&event("signing_key.created"), t(0))
        .await
        .unwrap();
    let second = db
        .record_audit_event(&event("signing_key.activated"), t(60))
        .await
        .unwrap();

    let events = db.recent_audit_events(10).await.unwrap();

    assert_eq!(events.len(), 2);
    assert_eq!(events[0].id, second.id);
    assert_eq!(events[0].occurred_at, t(60));
    assert_eq!(events[0].event.action, "signing_key.activated");
    assert_eq!(events[0].event.details["reason"], "test");
    assert_eq!(events[1].event.target_id.as_deref(), Some("kid-1"));
    assert_eq!(db.recent_audit_events(1).await.unwrap().len(), 1);
}
