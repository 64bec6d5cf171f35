//! The idempotency store's contract, on SQLite and on PostgreSQL: a record is committed with
//! the row it protects or not at all, one (caller, key) holds one live record, and expired
//! records are purged in bounded batches.

use std::sync::Arc;

use gatehouse::admin::clients::{NewClient, validate_new_client};
use gatehouse::admin::users::{NewUser, validate_new_user};
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::domain::{Client, ClientId, User, Username};
use gatehouse::store::{Database, IDEMPOTENCY_CONFLICT, IdempotencyRecord, StoreError};

use crate::durable::t;

fn client(id: &str) -> Client {
    let request = NewClient {
        client_id: Some(id.into()),
        name: format!("client {id}"),
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["read".into()],
        ..NewClient::default()
    };
    validate_new_client(request, &SigningAlgorithm::ALL, t(0)).unwrap()
}

fn user(name: &str) -> User {
    let request = NewUser {
        username: name.into(),
        ..NewUser::default()
    };
    validate_new_user(request, None, t(0)).unwrap()
}

fn record(caller: &str, key: &str, at: i64, expires: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        caller: caller.into(),
        key_digest: format!("digest of {key}"),
        request_digest: format!("request at {at}"),
        status: 201,
        sealed_response: vec![1, 2, 3, at as u8],
        created_at: t(at),
        expires_at: t(expires),
    }
}

async fn find(
    db: &Arc<dyn Database>,
    caller: &str,
    key: &str,
    at: i64,
) -> Option<IdempotencyRecord> {
    db.find_idempotency_record(caller, &format!("digest of {key}"), t(at))
        .await
        .unwrap()
}

fn is_idempotency_conflict(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict { constraint }) if constraint == IDEMPOTENCY_CONFLICT)
}

macro_rules! every_case {
    ($kind:literal) => {
        crate::store_suite!($kind:
            a_record_is_committed_with_the_client_or_user_it_protects,
            a_second_record_for_one_key_is_a_conflict_and_creates_nothing,
            a_failed_creation_leaves_no_record,
            one_of_many_concurrent_creations_with_one_key_wins,
            an_expired_record_is_not_found_and_may_be_replaced,
            expired_records_are_purged_in_bounded_batches,
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

async fn a_record_is_committed_with_the_client_or_user_it_protects(db: Arc<dyn Database>) {
    let for_client = record("admin", "k1", 0, 100);
    db.insert_client_idempotently(&client("made-once"), None, Some(&for_client))
        .await
        .unwrap();
    assert_eq!(find(&db, "admin", "k1", 1).await, Some(for_client));
    db.find_client(&ClientId::parse("made-once").unwrap())
        .await
        .unwrap();

    let for_user = record("admin", "k2", 0, 100);
    db.insert_user_idempotently(&user("ann"), Some(&for_user))
        .await
        .unwrap();
    assert_eq!(find(&db, "admin", "k2", 1).await, Some(for_user));
    db.find_user_by_username(&Username::parse("ann").unwrap())
        .await
        .unwrap();

    assert_eq!(find(&db, "someone else", "k1", 1).await, None);
    assert_eq!(find(&db, "admin", "k3", 1).await, None);
}

async fn a_second_record_for_one_key_is_a_conflict_and_creates_nothing(db: Arc<dyn Database>) {
    let first = record("admin", "k1", 0, 100);
    db.insert_client_idempotently(&client("first"), None, Some(&first))
        .await
        .unwrap();

    let again = record("admin", "k1", 5, 105);
    let outcome = db
        .insert_client_idempotently(&client("second"), None, Some(&again))
        .await;
    assert!(is_idempotency_conflict(outcome));
    let outcome = db
        .insert_user_idempotently(&user("bob"), Some(&again))
        .await;
    assert!(is_idempotency_conflict(outcome));

    assert!(matches!(
        db.find_client(&ClientId::parse("second").unwrap()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.find_user_by_username(&Username::parse("bob").unwrap())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(find(&db, "admin", "k1", 6).await, Some(first));

    // The key is the caller's own.
    db.insert_client_idempotently(
        &client("theirs"),
        None,
        Some(&record("other", "k1", 5, 105)),
    )
    .await
    .unwrap();
}

async fn a_failed_creation_leaves_no_record(db: Arc<dyn Database>) {
    db.insert_client(&client("taken"), None).await.unwrap();
    db.insert_user(&user("ann")).await.unwrap();

    let outcome = db
        .insert_client_idempotently(&client("taken"), None, Some(&record("admin", "k1", 0, 100)))
        .await;
    assert!(
        matches!(outcome, Err(StoreError::Conflict { constraint }) if constraint != IDEMPOTENCY_CONFLICT)
    );
    let outcome = db
        .insert_user_idempotently(&user("ann"), Some(&record("admin", "k2", 0, 100)))
        .await;
    assert!(
        matches!(outcome, Err(StoreError::Conflict { constraint }) if constraint != IDEMPOTENCY_CONFLICT)
    );

    assert_eq!(find(&db, "admin", "k1", 1).await, None);
    assert_eq!(find(&db, "admin", "k2", 1).await, None);
    // Nothing holds the key: the retry may create.
    db.insert_client_idempotently(&client("free"), None, Some(&record("admin", "k1", 2, 100)))
        .await
        .unwrap();
}

async fn one_of_many_concurrent_creations_with_one_key_wins(db: Arc<dyn Database>) {
    let attempts = (0..8).map(|i| {
        let db = Arc::clone(&db);
        tokio::spawn(async move {
            db.insert_client_idempotently(
                &client(&format!("raced-{i}")),
                None,
                Some(&record("admin", "race", 0, 100)),
            )
            .await
        })
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    let mut won = 0;
    for outcome in outcomes {
        match outcome.unwrap() {
            Ok(()) => won += 1,
            other => assert!(is_idempotency_conflict(other)),
        }
    }
    assert_eq!(won, 1);
    let raced = db
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.id.as_str().starts_with("raced-"))
        .count();
    assert_eq!(raced, 1);
}

async fn an_expired_record_is_not_found_and_may_be_replaced(db: Arc<dyn Database>) {
    let old = record("admin", "k1", 0, 10);
    db.insert_user_idempotently(&user("ann"), Some(&old))
        .await
        .unwrap();
    assert_eq!(find(&db, "admin", "k1", 9).await, Some(old));
    assert_eq!(find(&db, "admin", "k1", 10).await, None);

    let new = record("admin", "k1", 10, 20);
    db.insert_user_idempotently(&user("bob"), Some(&new))
        .await
        .unwrap();
    assert_eq!(find(&db, "admin", "k1", 11).await, Some(new));
}

async fn expired_records_are_purged_in_bounded_batches(db: Arc<dyn Database>) {
    for i in 0..3 {
        let name = format!("expired{i}");
        db.insert_user_idempotently(&user(&name), Some(&record("admin", &name, 0, 10)))
            .await
            .unwrap();
    }
    let live = record("admin", "live", 0, 11);
    db.insert_user_idempotently(&user("live"), Some(&live))
        .await
        .unwrap();

    assert_eq!(
        db.purge_expired_idempotency_records(t(9), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.purge_expired_idempotency_records(t(10), 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        db.purge_expired_idempotency_records(t(10), 2)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.purge_expired_idempotency_records(t(10), 2)
            .await
            .unwrap(),
        0
    );
    assert_eq!(find(&db, "admin", "live", 10).await, Some(live));
    // Purging records takes nothing they protected.
    assert_eq!(db.list_users().await.unwrap().len(), 4);
}
