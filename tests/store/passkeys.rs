//! The passkey store's contract, on SQLite and on PostgreSQL: several passkeys per person, a
//! credential id registered once across everyone, renames and removals only by their owner.

use std::sync::Arc;

use gatehouse::domain::User;
use gatehouse::store::{Database, PASSKEY_CREDENTIAL_ID, StoreError, StoredPasskey};
use serde_json::json;
use uuid::Uuid;

use crate::durable::{t, with_user};

fn passkey(user: &User, credential_id: &[u8], name: &str, at: i64) -> StoredPasskey {
    StoredPasskey {
        id: Uuid::now_v7(),
        user_id: user.id,
        credential_id: credential_id.to_vec(),
        name: name.into(),
        credential: json!({ "counter": 0, "id": name }),
        created_at: t(at),
        last_used_at: None,
    }
}

macro_rules! every_case {
    ($kind:literal) => {
        crate::store_suite!($kind:
            a_person_keeps_several_passkeys_in_the_order_they_were_added,
            a_credential_id_is_registered_once_across_everyone,
            a_use_updates_the_credential_and_when_it_was_last_used,
            only_the_owner_renames_or_removes_a_passkey,
            passkeys_for_an_unknown_user_are_not_found,
            deleting_a_user_deletes_their_passkeys,
        );
    };
}

mod sqlite {
    every_case!("sqlite");
}

mod postgres {
    every_case!("postgres");
}

async fn a_person_keeps_several_passkeys_in_the_order_they_were_added(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let laptop = passkey(&ann, b"cred-laptop", "Laptop", 10);
    let phone = passkey(&ann, b"cred-phone", "Phone", 20);
    db.add_passkey(&phone).await.unwrap();
    db.add_passkey(&laptop).await.unwrap();

    assert_eq!(
        db.list_passkeys(ann.id).await.unwrap(),
        vec![laptop.clone(), phone]
    );
    assert_eq!(db.find_passkey(b"cred-laptop").await.unwrap(), Some(laptop));
    assert_eq!(db.find_passkey(b"cred-unknown").await.unwrap(), None);
}

async fn a_credential_id_is_registered_once_across_everyone(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let bob = with_user(&db, "bob").await;
    db.add_passkey(&passkey(&ann, b"shared", "Ann's key", 0))
        .await
        .unwrap();

    for owner in [&ann, &bob] {
        match db.add_passkey(&passkey(owner, b"shared", "again", 1)).await {
            Err(StoreError::Conflict { constraint }) => {
                assert_eq!(constraint, PASSKEY_CREDENTIAL_ID);
            }
            other => panic!("a second registration of one credential id: {other:?}"),
        }
    }
    assert!(db.list_passkeys(bob.id).await.unwrap().is_empty());
    assert_eq!(db.list_passkeys(ann.id).await.unwrap().len(), 1);
}

async fn a_use_updates_the_credential_and_when_it_was_last_used(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let key = passkey(&ann, b"cred", "Key", 0);
    db.add_passkey(&key).await.unwrap();

    let moved_on = json!({ "counter": 7, "id": "Key" });
    assert!(
        db.record_passkey_use(key.id, &moved_on, t(30))
            .await
            .unwrap()
    );
    let used = db.find_passkey(b"cred").await.unwrap().unwrap();
    assert_eq!(used.credential, moved_on);
    assert_eq!(used.last_used_at, Some(t(30)));

    db.delete_passkey(ann.id, key.id).await.unwrap();
    assert!(
        !db.record_passkey_use(key.id, &moved_on, t(40))
            .await
            .unwrap(),
        "removed meanwhile"
    );
}

async fn only_the_owner_renames_or_removes_a_passkey(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let bob = with_user(&db, "bob").await;
    let key = passkey(&ann, b"cred", "Key", 0);
    db.add_passkey(&key).await.unwrap();

    assert!(!db.rename_passkey(bob.id, key.id, "Mine now").await.unwrap());
    assert!(!db.delete_passkey(bob.id, key.id).await.unwrap());
    assert_eq!(db.list_passkeys(ann.id).await.unwrap()[0].name, "Key");

    assert!(db.rename_passkey(ann.id, key.id, "Yubikey").await.unwrap());
    assert_eq!(db.list_passkeys(ann.id).await.unwrap()[0].name, "Yubikey");
    assert!(db.delete_passkey(ann.id, key.id).await.unwrap());
    assert!(
        !db.delete_passkey(ann.id, key.id).await.unwrap(),
        "gone already"
    );
    assert!(db.list_passkeys(ann.id).await.unwrap().is_empty());
}

async fn passkeys_for_an_unknown_user_are_not_found(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let mut stray = passkey(&ann, b"cred", "Key", 0);
    stray.user_id = Uuid::now_v7();
    assert!(matches!(
        db.add_passkey(&stray).await,
        Err(StoreError::NotFound)
    ));
}

async fn deleting_a_user_deletes_their_passkeys(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.add_passkey(&passkey(&ann, b"one", "One", 0))
        .await
        .unwrap();
    db.add_passkey(&passkey(&ann, b"two", "Two", 1))
        .await
        .unwrap();
    assert_eq!(db.delete_passkeys(ann.id).await.unwrap(), 2);
    db.add_passkey(&passkey(&ann, b"three", "Three", 2))
        .await
        .unwrap();

    db.delete_user(ann.id, None).await.unwrap();
    assert_eq!(db.find_passkey(b"three").await.unwrap(), None);
}
