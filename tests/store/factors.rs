//! The second-factor store's contract (TOTP authenticators, recovery codes), on SQLite and on
//! PostgreSQL: each code is accepted once, even by two callers at the same instant.

use std::sync::Arc;

use gatehouse::store::{Database, StoreError, TOTP_FACTOR_CONFIRMED};
use uuid::Uuid;

use crate::durable::{t, with_user};

/// Recovery-code digests `first..first + n`, each 32 equal bytes.
fn digests(first: u8, n: u8) -> Vec<[u8; 32]> {
    (first..first + n).map(|b| [b; 32]).collect()
}

macro_rules! every_case {
    ($kind:literal) => {
        crate::store_suite!($kind:
            an_enrolment_is_confirmed_once_and_each_step_is_used_once,
            of_two_uses_of_one_step_at_once_exactly_one_wins,
            of_two_confirmations_with_one_code_at_once_exactly_one_wins,
            an_unconfirmed_enrolment_restarts_with_a_new_secret,
            a_confirmed_authenticator_is_not_replaced_until_deleted,
            factors_for_an_unknown_user_are_not_found,
            a_recovery_code_is_used_once_and_the_rest_are_counted,
            replacing_recovery_codes_retires_the_old_set,
            of_two_uses_of_one_recovery_code_at_once_exactly_one_wins,
            deleting_a_user_deletes_their_factors,
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

async fn an_enrolment_is_confirmed_once_and_each_step_is_used_once(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.put_totp_factor(ann.id, b"sealed secret", t(0))
        .await
        .unwrap();

    let pending = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(pending.user_id, ann.id);
    assert_eq!(pending.sealed_secret, b"sealed secret");
    assert_eq!(pending.created_at, t(0));
    assert!(!pending.is_confirmed());
    assert_eq!(pending.last_used_step, None);
    assert!(
        !format!("{pending:?}").contains("sealed_secret"),
        "{pending:?}"
    );
    assert!(
        !db.use_totp_step(ann.id, 100).await.unwrap(),
        "an unconfirmed enrolment is no second factor"
    );

    assert!(db.confirm_totp_factor(ann.id, 100, t(5)).await.unwrap());
    assert!(
        !db.confirm_totp_factor(ann.id, 101, t(6)).await.unwrap(),
        "confirmed already"
    );
    let confirmed = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(confirmed.confirmed_at, Some(t(5)));
    assert_eq!(confirmed.last_used_step, Some(100));

    assert!(
        !db.use_totp_step(ann.id, 100).await.unwrap(),
        "the confirming code again"
    );
    assert!(
        !db.use_totp_step(ann.id, 99).await.unwrap(),
        "an older code"
    );
    assert!(db.use_totp_step(ann.id, 101).await.unwrap());
    assert!(!db.use_totp_step(ann.id, 101).await.unwrap(), "a replay");
    assert!(db.use_totp_step(ann.id, 103).await.unwrap());
    let used = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(used.last_used_step, Some(103));
    assert_eq!(used.confirmed_at, Some(t(5)));
}

async fn of_two_uses_of_one_step_at_once_exactly_one_wins(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.put_totp_factor(ann.id, b"s", t(0)).await.unwrap();
    assert!(db.confirm_totp_factor(ann.id, 100, t(0)).await.unwrap());

    let (a, b) = tokio::join!(db.use_totp_step(ann.id, 101), db.use_totp_step(ann.id, 101));

    let wins = [a.unwrap(), b.unwrap()];
    assert_eq!(wins.iter().filter(|won| **won).count(), 1, "{wins:?}");
    let factor = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(factor.last_used_step, Some(101));
}

async fn of_two_confirmations_with_one_code_at_once_exactly_one_wins(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.put_totp_factor(ann.id, b"s", t(0)).await.unwrap();

    let (a, b) = tokio::join!(
        db.confirm_totp_factor(ann.id, 100, t(1)),
        db.confirm_totp_factor(ann.id, 100, t(2))
    );

    let wins = [a.unwrap(), b.unwrap()];
    assert_eq!(wins.iter().filter(|won| **won).count(), 1, "{wins:?}");
    let factor = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert!(factor.is_confirmed());
    assert_eq!(factor.last_used_step, Some(100));
}

async fn an_unconfirmed_enrolment_restarts_with_a_new_secret(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.put_totp_factor(ann.id, b"first", t(0)).await.unwrap();

    db.put_totp_factor(ann.id, b"second", t(10)).await.unwrap();

    let restarted = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(restarted.sealed_secret, b"second");
    assert_eq!(restarted.created_at, t(10));
    assert!(!restarted.is_confirmed());
    assert!(db.confirm_totp_factor(ann.id, 7, t(11)).await.unwrap());
}

async fn a_confirmed_authenticator_is_not_replaced_until_deleted(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.put_totp_factor(ann.id, b"kept", t(0)).await.unwrap();
    assert!(db.confirm_totp_factor(ann.id, 100, t(1)).await.unwrap());

    let again = db.put_totp_factor(ann.id, b"intruder", t(2)).await;

    assert!(
        matches!(&again, Err(StoreError::Conflict { constraint }) if constraint == TOTP_FACTOR_CONFIRMED),
        "{again:?}"
    );
    let kept = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(kept.sealed_secret, b"kept");
    assert_eq!(kept.confirmed_at, Some(t(1)));
    assert_eq!(kept.last_used_step, Some(100));

    assert!(db.delete_totp_factor(ann.id).await.unwrap());
    assert!(!db.delete_totp_factor(ann.id).await.unwrap());
    assert!(db.find_totp_factor(ann.id).await.unwrap().is_none());
    db.put_totp_factor(ann.id, b"new", t(3)).await.unwrap();
    let fresh = db.find_totp_factor(ann.id).await.unwrap().unwrap();
    assert!(!fresh.is_confirmed());
    assert_eq!(fresh.last_used_step, None);
}

async fn factors_for_an_unknown_user_are_not_found(db: Arc<dyn Database>) {
    let nobody = Uuid::now_v7();

    let put = db.put_totp_factor(nobody, b"s", t(0)).await;
    let codes = db
        .replace_recovery_codes(nobody, &digests(1, 2), t(0))
        .await;

    assert!(matches!(put, Err(StoreError::NotFound)), "{put:?}");
    assert!(matches!(codes, Err(StoreError::NotFound)), "{codes:?}");
    assert!(db.find_totp_factor(nobody).await.unwrap().is_none());
    assert!(!db.use_totp_step(nobody, 1).await.unwrap());
    assert!(!db.confirm_totp_factor(nobody, 1, t(0)).await.unwrap());
    assert_eq!(
        db.use_recovery_code(nobody, &[1; 32], t(0)).await.unwrap(),
        None
    );
    assert_eq!(db.count_recovery_codes(nobody).await.unwrap(), 0);
}

async fn a_recovery_code_is_used_once_and_the_rest_are_counted(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let bob = with_user(&db, "bob").await;
    db.replace_recovery_codes(ann.id, &digests(1, 10), t(0))
        .await
        .unwrap();
    db.replace_recovery_codes(bob.id, &digests(3, 1), t(0))
        .await
        .unwrap();
    assert_eq!(db.count_recovery_codes(ann.id).await.unwrap(), 10);

    assert_eq!(
        db.use_recovery_code(ann.id, &[3; 32], t(1)).await.unwrap(),
        Some(9)
    );
    assert_eq!(
        db.use_recovery_code(ann.id, &[3; 32], t(2)).await.unwrap(),
        None,
        "used once"
    );
    assert_eq!(
        db.use_recovery_code(ann.id, &[99; 32], t(2)).await.unwrap(),
        None,
        "not one of hers"
    );
    assert_eq!(
        db.use_recovery_code(ann.id, &[1; 32], t(3)).await.unwrap(),
        Some(8)
    );
    assert_eq!(db.count_recovery_codes(ann.id).await.unwrap(), 8);

    // The same digest is another user's own code, untouched by hers.
    assert_eq!(db.count_recovery_codes(bob.id).await.unwrap(), 1);
    assert_eq!(
        db.use_recovery_code(bob.id, &[3; 32], t(4)).await.unwrap(),
        Some(0)
    );
    assert_eq!(db.count_recovery_codes(ann.id).await.unwrap(), 8);
}

async fn replacing_recovery_codes_retires_the_old_set(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.replace_recovery_codes(ann.id, &digests(1, 3), t(0))
        .await
        .unwrap();
    assert_eq!(
        db.use_recovery_code(ann.id, &[1; 32], t(1)).await.unwrap(),
        Some(2)
    );

    db.replace_recovery_codes(ann.id, &digests(1, 2), t(2))
        .await
        .unwrap();

    assert_eq!(
        db.count_recovery_codes(ann.id).await.unwrap(),
        2,
        "the old set, its used code included, is gone"
    );
    db.replace_recovery_codes(ann.id, &digests(10, 2), t(3))
        .await
        .unwrap();
    assert_eq!(
        db.use_recovery_code(ann.id, &[2; 32], t(4)).await.unwrap(),
        None,
        "an old code no longer works"
    );
    assert_eq!(
        db.use_recovery_code(ann.id, &[11; 32], t(4)).await.unwrap(),
        Some(1)
    );
    assert_eq!(db.delete_recovery_codes(ann.id).await.unwrap(), 2);
    assert_eq!(db.count_recovery_codes(ann.id).await.unwrap(), 0);
    assert_eq!(db.delete_recovery_codes(ann.id).await.unwrap(), 0);
}

async fn of_two_uses_of_one_recovery_code_at_once_exactly_one_wins(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    db.replace_recovery_codes(ann.id, &digests(1, 2), t(0))
        .await
        .unwrap();

    let (a, b) = tokio::join!(
        db.use_recovery_code(ann.id, &[1; 32], t(1)),
        db.use_recovery_code(ann.id, &[1; 32], t(1))
    );

    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort();
    assert_eq!(outcomes, [None, Some(1)]);
    assert_eq!(db.count_recovery_codes(ann.id).await.unwrap(), 1);
}

async fn deleting_a_user_deletes_their_factors(db: Arc<dyn Database>) {
    let ann = with_user(&db, "ann").await;
    let bob = with_user(&db, "bob").await;
    for user in [&ann, &bob] {
        db.put_totp_factor(user.id, b"s", t(0)).await.unwrap();
        assert!(db.confirm_totp_factor(user.id, 1, t(0)).await.unwrap());
        db.replace_recovery_codes(user.id, &digests(1, 3), t(0))
            .await
            .unwrap();
    }

    db.delete_user(ann.id, None).await.unwrap();

    assert!(db.find_totp_factor(ann.id).await.unwrap().is_none());
    assert_eq!(db.count_recovery_codes(ann.id).await.unwrap(), 0);
    assert_eq!(db.delete_recovery_codes(ann.id).await.unwrap(), 0);
    assert!(db.find_totp_factor(bob.id).await.unwrap().is_some());
    assert_eq!(db.count_recovery_codes(bob.id).await.unwrap(), 3);
}
