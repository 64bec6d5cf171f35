use super::*;
use crate::config::{DeclaredPassword, FixedSecret, PasswordHashString, PasswordSettings};
use crate::crypto::{Password, PlainSecret};
use crate::domain::{ClientId, Username};
use crate::store::{ClientStore as _, SqliteStore, UserStore as _};

const SECRET: &str = "a-fixed-test-secret-of-at-least-32-chars";

async fn database() -> SqliteStore {
    let db = SqliteStore::connect("sqlite::memory:", 1, Duration::from_secs(5))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db
}

fn hasher() -> PasswordHasher {
    PasswordHasher::new(&PasswordSettings {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        max_concurrent: Some(1),
        queue_timeout_ms: 10_000,
    })
    .unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn billing() -> DeclaredClient {
    DeclaredClient {
        client_id: "billing".into(),
        name: "Billing".into(),
        scopes: vec!["invoices:read".into()],
        client_secret: Some(FixedSecret::try_from(SECRET.to_owned()).unwrap()),
        ..DeclaredClient::default()
    }
}

fn web() -> DeclaredClient {
    DeclaredClient {
        client_id: "web".into(),
        name: "Web".into(),
        public: true,
        redirect_uris: vec!["https://app.example.com/cb".into()],
        ..DeclaredClient::default()
    }
}

fn ann() -> DeclaredUser {
    DeclaredUser {
        username: "Ann".into(),
        email: Some("ann@example.com".into()),
        display_name: Some("Ann".into()),
        password: Some(DeclaredPassword::from("a long passphrase".to_owned())),
        ..DeclaredUser::default()
    }
}

fn declarations() -> Declarations {
    Declarations {
        clients: vec![billing(), web()],
        users: vec![ann()],
        ..Declarations::default()
    }
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.steps.iter().map(ToString::to_string).collect()
}

async fn live_digests(db: &SqliteStore, id: &str) -> Vec<[u8; 32]> {
    let id = ClientId::parse(id).unwrap();
    let live = db.live_client_secrets(&id, now()).await.unwrap();
    live.into_iter().map(|r| r.digest).collect()
}

#[tokio::test]
async fn applying_twice_creates_once_and_then_changes_nothing() {
    let (db, hasher) = (database().await, hasher());
    let decls = declarations();

    let planned = plan(&db, &hasher, &decls, now()).await.unwrap();
    let applied = apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let again = plan(&db, &hasher, &decls, now()).await.unwrap();
    let reapplied = apply(&db, &hasher, &decls, "test", now()).await.unwrap();

    assert_eq!(
        lines(&planned),
        [
            "create client billing",
            "create client web",
            "create user ann"
        ]
    );
    assert_eq!(applied, planned);
    assert_eq!(
        lines(&again),
        [
            "unchanged client billing",
            "unchanged client web",
            "unchanged user ann"
        ]
    );
    assert_eq!(reapplied, again);
    assert_eq!(db.list_clients().await.unwrap().len(), 2);
    assert_eq!(db.list_users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_plan_lists_the_changed_fields_and_changes_nothing() {
    let (db, hasher) = (database().await, hasher());
    apply(&db, &hasher, &declarations(), "test", now())
        .await
        .unwrap();
    let mut decls = declarations();
    decls.clients[0].scopes.push("invoices:write".into());
    decls.clients[0].access_token_ttl_secs = Some(600);
    decls.users[0].display_name = Some("Ann Example".into());
    decls.users[0].disabled = true;

    let planned = plan(&db, &hasher, &decls, now()).await.unwrap();
    let stored = db
        .find_client(&ClientId::parse("billing").unwrap())
        .await
        .unwrap();
    let applied = apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let after = plan(&db, &hasher, &decls, now()).await.unwrap();

    assert_eq!(
        lines(&planned),
        [
            "update client billing: scopes, access_token_ttl_secs",
            "unchanged client web",
            "update user ann: display_name, disabled"
        ]
    );
    assert_eq!(stored.access_token_ttl_secs, None, "the plan wrote nothing");
    assert_eq!(applied, planned);
    assert_eq!(after.updated() + after.created(), 0, "{:?}", lines(&after));
    let ann = db
        .find_user_by_username(&Username::parse("ann").unwrap())
        .await
        .unwrap();
    assert!(ann.disabled);
    assert_eq!(ann.display_name.as_deref(), Some("Ann Example"));
}

#[tokio::test]
async fn a_declared_require_mfa_is_applied_and_a_change_of_it_is_drift() {
    let (db, hasher) = (database().await, hasher());
    let mut decls = declarations();
    decls.clients[1].require_mfa = true;
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let web = || async {
        db.find_client(&ClientId::parse("web").unwrap())
            .await
            .unwrap()
    };
    let stored = web().await;

    decls.clients[1].require_mfa = false;
    let planned = plan(&db, &hasher, &decls, now()).await.unwrap();
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();

    assert!(stored.require_mfa);
    assert_eq!(lines(&planned)[1], "update client web: require_mfa");
    assert!(!web().await.require_mfa);
}

#[tokio::test]
async fn declared_roles_are_held_exactly_and_left_alone_when_not_declared() {
    let (db, hasher) = (database().await, hasher());
    let ann = || async {
        db.find_user_by_username(&Username::parse("ann").unwrap())
            .await
            .unwrap()
    };
    let mut decls = declarations();
    decls.users[0].roles = Some(vec!["admin".into()]);
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    assert_eq!(
        ann().await.roles,
        crate::domain::Roles::from(vec![crate::domain::Role::Admin])
    );
    let again = plan(&db, &hasher, &decls, now()).await.unwrap();
    assert_eq!(again.updated() + again.created(), 0, "{:?}", lines(&again));

    decls.users[0].roles = Some(vec!["auditor".into()]);
    let planned = plan(&db, &hasher, &decls, now()).await.unwrap();
    assert_eq!(lines(&planned)[2], "update user ann: roles");
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let held: Vec<_> = ann().await.roles.iter().collect();
    assert_eq!(held, [crate::domain::Role::Auditor]);

    // Not declared: a role granted otherwise stays, and nothing is planned.
    decls.users[0].roles = None;
    let planned = plan(&db, &hasher, &decls, now()).await.unwrap();
    assert_eq!(planned.updated(), 0, "{:?}", lines(&planned));
    assert!(!ann().await.roles.is_empty());

    decls.users[0].roles = Some(vec!["root".into()]);
    let refused = check(&decls).unwrap_err().to_string();
    assert!(refused.contains("roles[0]"), "{refused}");
}

#[tokio::test]
async fn a_fixed_secret_is_stored_and_a_new_one_replaces_it_at_once() {
    let (db, hasher) = (database().await, hasher());
    let mut decls = declarations();
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let first = PlainSecret::from_presented(SECRET.to_owned());
    assert!(first.matches_any(&live_digests(&db, "billing").await));

    let second = format!("{SECRET}-rotated");
    decls.clients[0].client_secret = Some(FixedSecret::try_from(second.clone()).unwrap());
    let applied = apply(&db, &hasher, &decls, "test", now()).await.unwrap();

    assert_eq!(lines(&applied)[0], "update client billing: client_secret");
    let live = live_digests(&db, "billing").await;
    assert!(PlainSecret::from_presented(second).matches_any(&live));
    assert!(!first.matches_any(&live), "no overlap");
}

#[tokio::test]
async fn a_client_declared_without_a_secret_keeps_the_one_it_has() {
    let (db, hasher) = (database().await, hasher());
    let mut decls = declarations();
    decls.clients[0].client_secret = None;
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let before = live_digests(&db, "billing").await;

    let again = plan(&db, &hasher, &decls, now()).await.unwrap();

    assert_eq!(before.len(), 1, "a generated secret");
    assert_eq!(lines(&again)[0], "unchanged client billing");
}

#[tokio::test]
async fn a_changed_password_or_hash_is_set() {
    let (db, hasher) = (database().await, hasher());
    let mut decls = declarations();
    apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let find = || async {
        db.find_user_by_username(&Username::parse("ann").unwrap())
            .await
            .unwrap()
    };
    let verifies = |password: &'static str, hash: Option<String>| {
        let hasher = hasher.clone();
        async move {
            let password = Password::new(password.to_owned());
            hasher.verify(&password, hash.as_deref()).await.unwrap() != Verification::Invalid
        }
    };
    assert!(verifies("a long passphrase", find().await.password_hash).await);

    decls.users[0].password = Some(DeclaredPassword::from("another passphrase".to_owned()));
    let changed = apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    assert_eq!(lines(&changed)[2], "update user ann: password");
    assert!(verifies("another passphrase", find().await.password_hash).await);

    let hash = hasher
        .hash(&Password::new("a third passphrase".into()))
        .await
        .unwrap();
    decls.users[0].password = None;
    decls.users[0].password_hash = Some(PasswordHashString::try_from(hash.clone()).unwrap());
    let hashed = apply(&db, &hasher, &decls, "test", now()).await.unwrap();
    let again = plan(&db, &hasher, &decls, now()).await.unwrap();

    assert_eq!(lines(&hashed)[2], "update user ann: password_hash");
    assert_eq!(find().await.password_hash, Some(hash));
    assert_eq!(lines(&again)[2], "unchanged user ann");
}

#[test]
fn check_names_the_object_and_every_problem_of_it() {
    let mut decls = declarations();
    decls.clients[1].redirect_uris = vec!["ftp://x".into()];

    let error = check(&decls).unwrap_err();

    assert!(error.is_invalid());
    assert_eq!(error.object, r#"clients[1] (client_id "web")"#);
    assert!(
        error.to_string().starts_with(
            r#"clients[1] (client_id "web"): redirect_uris[0]: scheme `ftp` is not allowed"#
        ),
        "{error}"
    );
}

#[test]
fn check_refuses_duplicates_secrets_without_use_and_two_passwords() {
    let twice = Declarations {
        clients: vec![billing(), billing()],
        users: vec![],
        ..Declarations::default()
    };
    let public_with_secret = Declarations {
        clients: vec![DeclaredClient {
            client_secret: billing().client_secret,
            ..web()
        }],
        users: vec![],
        ..Declarations::default()
    };
    let hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$\
                KrQ1yNQwYaxqCHdRTbYZ4BUCVDE3fb9DsLKmDc+Fq2s";
    let both = Declarations {
        clients: vec![],
        users: vec![
            ann(),
            DeclaredUser {
                username: "ANN".into(),
                ..DeclaredUser::default()
            },
            DeclaredUser {
                password_hash: Some(PasswordHashString::try_from(hash.to_owned()).unwrap()),
                ..ann()
            },
        ],
        ..Declarations::default()
    };

    let problems =
        [twice, public_with_secret, both].map(|decls| check(&decls).unwrap_err().to_string());

    assert_eq!(
        problems,
        [
            r#"clients[1] (client_id "billing"): client_id: is declared twice"#,
            r#"clients[0] (client_id "web"): client_secret: a none client has no secret"#,
            r#"users[1] (username "ANN"): username: is declared twice"#,
        ]
    );
    let only_both = Declarations {
        clients: vec![],
        users: vec![DeclaredUser {
            password_hash: Some(PasswordHashString::try_from(hash.to_owned()).unwrap()),
            ..ann()
        }],
        ..Declarations::default()
    };
    assert_eq!(
        check(&only_both).unwrap_err().problem(),
        "password_hash: declare a password or a password_hash, not both"
    );
}

#[test]
fn check_refuses_an_id_token_algorithm_the_configuration_does_not_sign_with() {
    use crate::crypto::SigningAlgorithm;
    let eddsa = DeclaredClient {
        id_token_signed_response_alg: Some("EdDSA".into()),
        ..web()
    };
    let mut decls = Declarations {
        clients: vec![eddsa],
        signing_algorithms: vec![SigningAlgorithm::Es256, SigningAlgorithm::Rs256],
        ..Declarations::default()
    };

    let refused = check(&decls).unwrap_err().to_string();
    decls.signing_algorithms.push(SigningAlgorithm::EdDsa);

    assert!(
        refused.starts_with(
            r#"clients[0] (client_id "web"): id_token_signed_response_alg: EdDSA is not"#
        ),
        "{refused}"
    );
    check(&decls).unwrap();
}
