//! Optimistic concurrency and paging in the client and user stores, on SQLite and PostgreSQL:
//! a write at a stale version changes nothing, and pages stay stable while records are added.

use std::sync::Arc;

use gatehouse::admin::clients::{NewClient, validate_new_client};
use gatehouse::admin::users::{NewUser, validate_new_user};
use gatehouse::crypto::SigningAlgorithm;
use gatehouse::domain::{Client, Email, User, Username};
use gatehouse::store::{After, Database, StoreError, UserFilter};

use crate::durable::t;

fn client(id: &str, at: i64) -> Client {
    let request = NewClient {
        client_id: Some(id.into()),
        name: format!("client {id}"),
        scopes: vec!["read".into()],
        ..NewClient::default()
    };
    validate_new_client(request, &SigningAlgorithm::ALL, t(at)).unwrap()
}

fn user(name: &str, at: i64) -> User {
    let request = NewUser {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        ..NewUser::default()
    };
    validate_new_user(request, None, t(at)).unwrap()
}

macro_rules! every_case {
    ($kind:literal) => {
        crate::store_suite!($kind:
            a_client_update_at_the_current_version_bumps_it,
            a_client_update_or_delete_at_a_stale_version_changes_nothing,
            client_pages_follow_creation_order_and_survive_inserts,
            a_user_update_at_a_stale_version_or_to_a_taken_name_changes_nothing,
            user_pages_filter_by_username_and_email,
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

async fn a_client_update_at_the_current_version_bumps_it(db: Arc<dyn Database>) {
    let stored = client("billing", 0);
    db.insert_client(&stored, None).await.unwrap();
    let renamed = Client {
        name: "Billing v2".into(),
        updated_at: t(5),
        ..stored.clone()
    };

    db.update_client(&renamed, stored.version).await.unwrap();

    let read = db.find_client(&stored.id).await.unwrap();
    assert_eq!(read.name, "Billing v2");
    assert_eq!(read.version, stored.version + 1);
    assert_eq!(read.updated_at, t(5));
    assert_eq!(read.created_at, stored.created_at);
}

async fn a_client_update_or_delete_at_a_stale_version_changes_nothing(db: Arc<dyn Database>) {
    let stored = client("billing", 0);
    db.insert_client(&stored, None).await.unwrap();
    let renamed = Client {
        name: "late".into(),
        ..stored.clone()
    };

    let update = db.update_client(&renamed, stored.version + 7).await;
    let delete = db.delete_client(&stored.id, Some(stored.version + 7)).await;
    let missing = db.update_client(&client("nobody", 0), 1).await;

    assert!(matches!(update, Err(StoreError::Stale)), "{update:?}");
    assert!(matches!(delete, Err(StoreError::Stale)), "{delete:?}");
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(db.find_client(&stored.id).await.unwrap(), stored);
    db.delete_client(&stored.id, Some(stored.version))
        .await
        .unwrap();
    assert!(matches!(
        db.find_client(&stored.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn client_pages_follow_creation_order_and_survive_inserts(db: Arc<dyn Database>) {
    // two share a creation second: the id breaks the tie
    for (id, at) in [("c", 1), ("a", 2), ("b", 2), ("d", 3)] {
        db.insert_client(&client(id, at), None).await.unwrap();
    }
    let ids = |clients: Vec<Client>| -> Vec<String> {
        clients.into_iter().map(|c| c.id.to_string()).collect()
    };

    let first = db.list_clients_after(None, 2).await.unwrap();
    let last_of_first = first.last().unwrap().clone();
    // inserted meanwhile: one before the cursor, one after it
    db.insert_client(&client("early", 0), None).await.unwrap();
    db.insert_client(&client("late", 9), None).await.unwrap();
    let after = After {
        created_at: last_of_first.created_at,
        id: last_of_first.id.to_string(),
    };
    let second = db.list_clients_after(Some(&after), 10).await.unwrap();

    assert_eq!(ids(first), ["c", "a"]);
    assert_eq!(ids(second), ["b", "d", "late"]);
}

async fn a_user_update_at_a_stale_version_or_to_a_taken_name_changes_nothing(
    db: Arc<dyn Database>,
) {
    let ann = user("ann", 0);
    let bob = user("bob", 1);
    db.insert_user(&ann).await.unwrap();
    db.insert_user(&bob).await.unwrap();

    let stale = User {
        display_name: Some("late".into()),
        ..ann.clone()
    };
    let taken = User {
        username: Username::parse("bob").unwrap(),
        ..ann.clone()
    };

    let stale = db.update_user(&stale, ann.version + 1).await;
    let taken = db.update_user(&taken, ann.version).await;

    assert!(matches!(stale, Err(StoreError::Stale)), "{stale:?}");
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    assert_eq!(db.find_user(ann.id).await.unwrap(), ann);
    let renamed = User {
        username: Username::parse("annie").unwrap(),
        updated_at: t(4),
        ..ann.clone()
    };
    db.update_user(&renamed, ann.version).await.unwrap();
    let read = db.find_user(ann.id).await.unwrap();
    assert_eq!(read.username.as_str(), "annie");
    assert_eq!(read.version, ann.version + 1);
    assert!(matches!(
        db.delete_user(ann.id, Some(ann.version)).await,
        Err(StoreError::Stale)
    ));
}

async fn user_pages_filter_by_username_and_email(db: Arc<dyn Database>) {
    for (name, at) in [("ann", 0), ("bob", 1), ("cid", 2)] {
        db.insert_user(&user(name, at)).await.unwrap();
    }
    let names = |users: Vec<User>| -> Vec<String> {
        users.into_iter().map(|u| u.username.to_string()).collect()
    };
    let everyone = UserFilter::default();

    let first = db.list_users_after(&everyone, None, 2).await.unwrap();
    let last = first.last().unwrap().clone();
    let after = After {
        created_at: last.created_at,
        id: last.id.to_string(),
    };
    let rest = db
        .list_users_after(&everyone, Some(&after), 2)
        .await
        .unwrap();
    let by_name = UserFilter {
        username: Some(Username::parse("bob").unwrap()),
        email: None,
    };
    let by_email = UserFilter {
        username: None,
        email: Some(Email::parse("cid@example.com").unwrap()),
    };

    assert_eq!(names(first), ["ann", "bob"]);
    assert_eq!(names(rest), ["cid"]);
    assert_eq!(
        names(db.list_users_after(&by_name, None, 10).await.unwrap()),
        ["bob"]
    );
    assert_eq!(
        names(db.list_users_after(&by_email, None, 10).await.unwrap()),
        ["cid"]
    );
}
