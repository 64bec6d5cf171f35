//! The user, grant and refresh-token stores' contract, on SQLite and on PostgreSQL.

use std::sync::Arc;

use gatehouse::admin::clients::{NewClient, validate_new_client};
use gatehouse::admin::users::{NewUser, validate_new_user};
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::domain::{ClientId, ScopeSet, User, Username};
use gatehouse::signin::methods::{Method, Methods};
use gatehouse::store::{Database, RefreshTokenRecord, Rotation, StoreError};
use uuid::Uuid;

use crate::durable::t;

fn user(name: &str) -> User {
    let request = NewUser {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        email_verified: true,
        display_name: Some(format!("{name} Example")),
        claims: serde_json::from_value(serde_json::json!({"department": "sales"})).unwrap(),
    };
    User {
        password_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
        ..validate_new_user(request, None, t(0)).unwrap()
    }
}

async fn with_client(db: &Arc<dyn Database>, id: &str) -> ClientId {
    let request = NewClient {
        client_id: Some(id.into()),
        name: id.into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "offline_access".into(), "read".into()],
        redirect_uris: vec!["https://app.example.com/cb".into()],
        ..NewClient::default()
    };
    let client = validate_new_client(request, &SigningAlgorithm::ALL, t(0)).unwrap();
    db.insert_client(&client, None).await.unwrap();
    client.id
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse_delimited(s).unwrap()
}

fn token(grant_id: Uuid, family_id: Uuid, byte: u8, at: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: Uuid::now_v7(),
        digest: [byte; 32],
        grant_id,
        family_id,
        parent_id: None,
        scopes: scopes("openid offline_access"),
        auth_time: t(at),
        auth_methods: Some(Methods::password()),
        created_at: t(at),
        expires_at: t(at + 3600),
        used_at: None,
        revoked_at: None,
        sealed_successor: None,
    }
}

macro_rules! every_case {
    ($kind:literal) => {
        crate::store_suite!($kind:
            a_user_reads_back_as_stored_by_id_and_by_username,
            a_taken_username_is_a_conflict_and_changes_nothing,
            an_unknown_user_is_not_found,
            a_password_upgrade_never_undoes_a_reset,
            deleting_a_user_deletes_their_grants_and_refresh_tokens,
            consent_widens_one_live_grant_per_user_and_client,
            people_consenting_at_once_all_get_their_grant,
            revoking_a_grant_revokes_its_refresh_tokens_and_frees_the_slot,
            a_refresh_token_reads_back_with_the_time_and_methods_of_its_sign_in,
            a_refresh_token_rotates_exactly_once_even_concurrently,
            revoking_a_family_leaves_other_families_alone,
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

async fn a_user_reads_back_as_stored_by_id_and_by_username(db: Arc<dyn Database>) {
    let stored = user("ann");
    db.insert_user(&stored).await.unwrap();

    assert_eq!(db.find_user(stored.id).await.unwrap(), stored);
    let by_name = db
        .find_user_by_username(&Username::parse("ANN").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name, stored);
    db.insert_user(&user("bob")).await.unwrap();
    let names: Vec<String> = db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username.to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"ann".to_owned()) && names.contains(&"bob".to_owned()));
}

async fn a_taken_username_is_a_conflict_and_changes_nothing(db: Arc<dyn Database>) {
    let first = user("ann");
    db.insert_user(&first).await.unwrap();
    let second = User {
        email: None,
        ..user("ann")
    };

    let outcome = db.insert_user(&second).await;

    assert!(
        matches!(outcome, Err(StoreError::Conflict { .. })),
        "{outcome:?}"
    );
    assert_eq!(db.list_users().await.unwrap(), vec![first]);
}

async fn an_unknown_user_is_not_found(db: Arc<dyn Database>) {
    assert!(matches!(
        db.find_user(Uuid::new_v4()).await,
        Err(StoreError::NotFound)
    ));
    let nobody = Username::parse("nobody").unwrap();
    assert!(matches!(
        db.find_user_by_username(&nobody).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.delete_user(Uuid::new_v4(), None).await,
        Err(StoreError::NotFound)
    ));
    let missing = db
        .set_password_hash(Uuid::new_v4(), "$argon2id$x", t(1))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn a_password_upgrade_never_undoes_a_reset(db: Arc<dyn Database>) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let old = ann.password_hash.clone().unwrap();

    assert!(
        db.upgrade_password_hash(ann.id, &old, "$argon2id$upgraded", t(1))
            .await
            .unwrap()
    );
    db.set_password_hash(ann.id, "$argon2id$reset", t(2))
        .await
        .unwrap();
    let stale = db.upgrade_password_hash(ann.id, "$argon2id$upgraded", "$argon2id$late", t(3));

    assert!(
        !stale.await.unwrap(),
        "an upgrade of a replaced hash is refused"
    );
    let now = db.find_user(ann.id).await.unwrap();
    assert_eq!(now.password_hash.as_deref(), Some("$argon2id$reset"));
    assert_eq!(
        now.version, 2,
        "a reset is a new version; an upgrade is not"
    );
}

async fn deleting_a_user_deletes_their_grants_and_refresh_tokens(db: Arc<dyn Database>) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let client = with_client(&db, "web").await;
    let grant = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(1))
        .await
        .unwrap();
    let refresh = token(grant.id, Uuid::new_v4(), 7, 1);
    db.insert_refresh_token(&refresh).await.unwrap();

    db.delete_user(ann.id, None).await.unwrap();

    assert!(matches!(
        db.find_grant(grant.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.find_refresh_token(&[7; 32]).await,
        Err(StoreError::NotFound)
    ));
}

async fn consent_widens_one_live_grant_per_user_and_client(db: Arc<dyn Database>) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let client = with_client(&db, "web").await;

    let first = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(1))
        .await
        .unwrap();
    let wider = db
        .upsert_grant(ann.id, &client, &scopes("read"), t(2))
        .await
        .unwrap();

    assert_eq!(wider.id, first.id, "one live grant per user and client");
    assert_eq!(wider.scopes, scopes("openid read"));
    let live = db.find_live_grant(ann.id, &client).await.unwrap().unwrap();
    assert_eq!(live, wider);
}

/// Sign-ins finishing together (the side-by-side benchmark runs 8 to 32): each upsert reads
/// the live grant, then writes. On SQLite a transaction that read first and writes second
/// cannot take the write lock once another connection has committed (SQLITE_BUSY_SNAPSHOT,
/// "database is locked", with no wait), so it must take the lock before reading.
async fn people_consenting_at_once_all_get_their_grant(db: Arc<dyn Database>) {
    let client = with_client(&db, "web").await;
    let people: Vec<User> = (0..16).map(|i| user(&format!("user{i}"))).collect();
    for person in &people {
        db.insert_user(person).await.unwrap();
    }

    let consents = people.iter().map(|person| {
        let (db, client) = (Arc::clone(&db), client.clone());
        let id = person.id;
        tokio::spawn(async move { db.upsert_grant(id, &client, &scopes("openid"), t(1)).await })
    });
    let outcomes = futures_util::future::join_all(consents).await;

    let failed: Vec<_> = outcomes
        .into_iter()
        .map(|joined| joined.unwrap())
        .filter_map(Result::err)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for person in &people {
        assert!(
            db.find_live_grant(person.id, &client)
                .await
                .unwrap()
                .is_some()
        );
    }
}

async fn revoking_a_grant_revokes_its_refresh_tokens_and_frees_the_slot(db: Arc<dyn Database>) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let client = with_client(&db, "web").await;
    let grant = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(1))
        .await
        .unwrap();
    db.insert_refresh_token(&token(grant.id, Uuid::new_v4(), 1, 1))
        .await
        .unwrap();

    assert!(db.revoke_grant(grant.id, t(5)).await.unwrap());
    assert!(
        !db.revoke_grant(grant.id, t(6)).await.unwrap(),
        "already revoked"
    );

    let refresh = db.find_refresh_token(&[1; 32]).await.unwrap();
    assert_eq!(refresh.revoked_at, Some(t(5)));
    assert!(db.find_live_grant(ann.id, &client).await.unwrap().is_none());
    let next = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(7))
        .await
        .unwrap();
    assert_ne!(next.id, grant.id, "a revoked grant is never revived");
}

/// `auth_time` and the sign-in's methods come back as stored, for the refreshed ID token's
/// `auth_time`, `amr` and `acr` (OIDC Core §12.2); a token without methods (as every token
/// stored before migration 0015 is) reads back without them, not as a password.
async fn a_refresh_token_reads_back_with_the_time_and_methods_of_its_sign_in(
    db: Arc<dyn Database>,
) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let client = with_client(&db, "web").await;
    let grant = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(1))
        .await
        .unwrap();
    let family = Uuid::new_v4();
    let multi_factor = RefreshTokenRecord {
        auth_time: t(-300),
        auth_methods: Some(Methods::only(Method::Pwd).with(Method::Otp)),
        ..token(grant.id, family, 1, 1)
    };
    let unknown = RefreshTokenRecord {
        auth_methods: None,
        ..token(grant.id, Uuid::new_v4(), 2, 1)
    };
    db.insert_refresh_token(&multi_factor).await.unwrap();
    db.insert_refresh_token(&unknown).await.unwrap();
    let successor = RefreshTokenRecord {
        id: Uuid::now_v7(),
        digest: [3; 32],
        parent_id: Some(multi_factor.id),
        created_at: t(2),
        ..multi_factor.clone()
    };
    let rotated = db
        .rotate_refresh_token(multi_factor.id, None, &successor, t(2))
        .await
        .unwrap();

    assert_eq!(rotated, Rotation::Rotated);
    let read = db.find_refresh_token(&[1; 32]).await.unwrap();
    assert_eq!(read.auth_time, t(-300));
    assert_eq!(read.auth_methods, multi_factor.auth_methods);
    assert_eq!(db.find_refresh_token(&[3; 32]).await.unwrap(), successor);
    assert_eq!(db.find_refresh_token(&[2; 32]).await.unwrap(), unknown);
}

async fn a_refresh_token_rotates_exactly_once_even_concurrently(db: Arc<dyn Database>) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let client = with_client(&db, "web").await;
    let grant = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(1))
        .await
        .unwrap();
    let family = Uuid::new_v4();
    let old = token(grant.id, family, 1, 1);
    db.insert_refresh_token(&old).await.unwrap();
    let successor = |byte| RefreshTokenRecord {
        parent_id: Some(old.id),
        ..token(grant.id, family, byte, 2)
    };
    let (a, b) = (successor(2), successor(3));

    let (first, second) = tokio::join!(
        db.rotate_refresh_token(old.id, Some(b"sealed for 2"), &a, t(2)),
        db.rotate_refresh_token(old.id, Some(b"sealed for 3"), &b, t(2))
    );

    let outcomes = [first.unwrap(), second.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|o| **o == Rotation::Rotated).count(),
        1,
        "{outcomes:?}"
    );
    let rotated = db.find_refresh_token(&[1; 32]).await.unwrap();
    assert_eq!(rotated.used_at, Some(t(2)));
    let kept: &[u8] = if outcomes[0] == Rotation::Rotated {
        b"sealed for 2"
    } else {
        b"sealed for 3"
    };
    assert_eq!(
        rotated.sealed_successor.as_deref(),
        Some(kept),
        "the winner's successor is kept in the rotated row"
    );
    let stored = [
        db.find_refresh_token(&[2; 32]).await,
        db.find_refresh_token(&[3; 32]).await,
    ];
    assert_eq!(
        stored.iter().filter(|r| r.is_ok()).count(),
        1,
        "one successor only"
    );
}

async fn revoking_a_family_leaves_other_families_alone(db: Arc<dyn Database>) {
    let ann = user("ann");
    db.insert_user(&ann).await.unwrap();
    let client = with_client(&db, "web").await;
    let grant = db
        .upsert_grant(ann.id, &client, &scopes("openid"), t(1))
        .await
        .unwrap();
    let (doomed, kept) = (Uuid::new_v4(), Uuid::new_v4());
    db.insert_refresh_token(&token(grant.id, doomed, 1, 1))
        .await
        .unwrap();
    db.insert_refresh_token(&token(grant.id, doomed, 2, 1))
        .await
        .unwrap();
    db.insert_refresh_token(&token(grant.id, kept, 3, 1))
        .await
        .unwrap();

    assert_eq!(db.revoke_refresh_family(doomed, t(4)).await.unwrap(), 2);

    assert!(
        db.find_refresh_token(&[2; 32])
            .await
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        db.find_refresh_token(&[3; 32])
            .await
            .unwrap()
            .revoked_at
            .is_none()
    );
}
