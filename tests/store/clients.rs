//! The client store's contract, on SQLite and on PostgreSQL.

use std::sync::Arc;

use gatehouse::admin::clients::{NewClient, validate_new_client};
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::domain::{Client, ClientId};
use gatehouse::store::{ClientSecretRecord, Database, StoreError};
use uuid::Uuid;

use crate::durable::{fresh_database, t};

fn client(id: &str) -> Client {
    let request = NewClient {
        client_id: Some(id.into()),
        name: format!("client {id}"),
        grant_types: vec!["client_credentials".into(), "authorization_code".into()],
        scopes: vec!["read".into(), "write".into()],
        redirect_uris: vec!["https://app.example.com/cb".into()],
        audiences: vec!["https://api.example.com".into()],
        access_token_ttl_secs: Some(600),
        ..NewClient::default()
    };
    validate_new_client(request, &SigningAlgorithm::ALL, t(0)).unwrap()
}

fn secret(byte: u8, at: i64) -> ClientSecretRecord {
    ClientSecretRecord {
        id: Uuid::now_v7(),
        digest: [byte; 32],
        created_at: t(at),
        expires_at: None,
    }
}

fn id(s: &str) -> ClientId {
    ClientId::parse(s).unwrap()
}

macro_rules! client_suite {
    ($kind:literal: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some((db, _dir)) = fresh_database($kind).await {
                    super::$case(db).await;
                }
            }
        )*
    };
}

macro_rules! every_case {
    ($kind:literal) => {
        use super::*;
        client_suite!($kind:
            a_client_reads_back_as_stored,
            an_update_turns_require_mfa_on_and_off,
            a_duplicate_client_id_is_a_conflict_and_changes_nothing,
            an_unknown_client_is_not_found,
            clients_list_oldest_first,
            deleting_a_client_deletes_its_secrets,
            a_rotated_secret_stays_live_until_its_expiry,
            rotating_the_secret_of_a_missing_client_is_not_found,
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

/// Behind the pooler, the store's ten connections share the pooler's two server connections
/// per database (`.ci/scale-out-services`): concurrent reads, each with its own parameters,
/// still each get their own answer. With cached named statements (`database.pooler = "none"`)
/// the bind of one would land where another client's statement lives, or none does.
#[tokio::test]
async fn through_a_transaction_pooler_concurrent_calls_each_get_their_own_answer() {
    let Some((db, _dir)) = fresh_database("postgres_pooler").await else {
        return;
    };
    let ids: Vec<String> = (0..16).map(|n| format!("client-{n}")).collect();
    for (n, client_id) in (0u8..).zip(&ids) {
        db.insert_client(&client(client_id), Some(&secret(n, 0)))
            .await
            .unwrap();
    }
    let calls: Vec<_> = (0..8)
        .flat_map(|_| ids.iter().cloned())
        .map(|client_id| {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                let found = db.find_client(&id(&client_id)).await.unwrap();
                assert_eq!(found.id.as_str(), client_id);
                let secrets = db.live_client_secrets(&id(&client_id), t(1)).await.unwrap();
                assert_eq!(secrets.len(), 1);
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
}

async fn a_client_reads_back_as_stored(db: Arc<dyn Database>) {
    let stored = Client {
        jwks: None,
        first_party: true,
        require_mfa: true,
        ..client("billing")
    };
    db.insert_client(&stored, Some(&secret(1, 0)))
        .await
        .unwrap();

    let found = db.find_client(&id("billing")).await.unwrap();

    assert_eq!(found, stored);
    let secrets = db.live_client_secrets(&id("billing"), t(1)).await.unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].digest, [1; 32]);
}

/// `require_mfa` is its own column: an update writes it both ways, and a new client has it off.
async fn an_update_turns_require_mfa_on_and_off(db: Arc<dyn Database>) {
    let stored = client("payroll");
    db.insert_client(&stored, None).await.unwrap();
    let inserted = db.find_client(&id("payroll")).await.unwrap();
    assert!(!inserted.require_mfa);

    let on = Client {
        require_mfa: true,
        ..inserted
    };
    db.update_client(&on, on.version).await.unwrap();
    let after_on = db.find_client(&id("payroll")).await.unwrap();
    let off = Client {
        require_mfa: false,
        ..after_on.clone()
    };
    db.update_client(&off, off.version).await.unwrap();
    let after_off = db.find_client(&id("payroll")).await.unwrap();

    assert!(after_on.require_mfa);
    assert_eq!(after_on.version, stored.version + 1);
    assert!(!after_off.require_mfa);
    assert_eq!(after_off.version, stored.version + 2);
}

async fn a_duplicate_client_id_is_a_conflict_and_changes_nothing(db: Arc<dyn Database>) {
    db.insert_client(&client("dup"), Some(&secret(1, 0)))
        .await
        .unwrap();
    let other = Client {
        name: "another".into(),
        ..client("dup")
    };

    let result = db.insert_client(&other, Some(&secret(2, 0))).await;

    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "{result:?}"
    );
    assert_eq!(db.find_client(&id("dup")).await.unwrap().name, "client dup");
    let secrets = db.live_client_secrets(&id("dup"), t(1)).await.unwrap();
    assert_eq!(secrets.len(), 1, "the second secret was not stored");
}

async fn an_unknown_client_is_not_found(db: Arc<dyn Database>) {
    assert!(matches!(
        db.find_client(&id("nobody")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.delete_client(&id("nobody"), None).await,
        Err(StoreError::NotFound)
    ));
}

async fn clients_list_oldest_first(db: Arc<dyn Database>) {
    let newer = Client {
        created_at: t(10),
        ..client("a-newer")
    };
    db.insert_client(&newer, None).await.unwrap();
    db.insert_client(&client("b-older"), None).await.unwrap();

    let ids: Vec<String> = db
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();

    assert_eq!(ids, ["b-older", "a-newer"]);
}

async fn deleting_a_client_deletes_its_secrets(db: Arc<dyn Database>) {
    db.insert_client(&client("gone"), Some(&secret(1, 0)))
        .await
        .unwrap();

    db.delete_client(&id("gone"), None).await.unwrap();

    assert!(matches!(
        db.find_client(&id("gone")).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        db.live_client_secrets(&id("gone"), t(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_rotated_secret_stays_live_until_its_expiry(db: Arc<dyn Database>) {
    db.insert_client(&client("rot"), Some(&secret(1, 0)))
        .await
        .unwrap();

    db.rotate_client_secret(&id("rot"), &secret(2, 100), t(200), t(100))
        .await
        .unwrap();

    let digests = |at| {
        let db = db.clone();
        async move {
            db.live_client_secrets(&id("rot"), t(at))
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.digest[0])
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(digests(199).await, [1, 2]);
    assert_eq!(digests(200).await, [2]);
    let version = db.find_client(&id("rot")).await.unwrap().version;
    assert_eq!(version, 2, "a rotation is a change of the client");

    // A second rotation purges what has expired and never extends an earlier expiry.
    db.rotate_client_secret(&id("rot"), &secret(3, 300), t(1000), t(300))
        .await
        .unwrap();
    assert_eq!(digests(301).await, [2, 3]);
}

async fn rotating_the_secret_of_a_missing_client_is_not_found(db: Arc<dyn Database>) {
    let result = db
        .rotate_client_secret(&id("missing"), &secret(1, 0), t(10), t(0))
        .await;

    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
}
