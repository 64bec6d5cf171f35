//! `Idempotency-Key` on creating POSTs: a retry gets the first response back (the secret
//! included), another body with the same key is refused, and a race creates one resource. The
//! response is remembered in the database with what it created, so none of this depends on
//! the ephemeral store.

use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use gatehouse::clock::Clock;
use gatehouse::config::EncryptionKey;
use gatehouse::crypto::{KeyEncryptionKey, sha256, sha256_hex};
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_helpers::{ADMIN, AdminApi, assert_problem, invalid_fields, web_app_body};
use crate::helpers::{Backend, TestApp, spawn_app};

async fn post_with_key(
    api: &AdminApi<'_>,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    api.request(Method::POST, path)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// How many clients are named `name`.
async fn clients_named(api: &AdminApi<'_>, name: &str) -> usize {
    let (page, _) = api.read("/v1/clients?limit=200").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .count()
}

async fn a_retry_with_the_same_key_and_body_gets_the_first_response(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let body = web_app_body("Example App");
    let first = post_with_key(&api, "/v1/clients", "create-example-app", &body).await;
    assert_eq!(first.status(), 201);
    let first_headers = first.headers().clone();
    let first_body: Value = first.json().await.unwrap();
    assert!(first_body["client_secret"].is_string());

    let again = post_with_key(&api, "/v1/clients", "create-example-app", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["location"], first_headers["location"]);
    assert_eq!(again.headers()["etag"], first_headers["etag"]);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again_body: Value = again.json().await.unwrap();
    assert_eq!(again_body, first_body, "the same secret too");
    assert_eq!(clients_named(&api, "Example App").await, 1);

    // The key is the caller's own: another caller with the same key creates its own client.
    let other = AdminApi::new(&app).await;
    let theirs = post_with_key(&other, "/v1/clients", "create-example-app", &body).await;
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    assert_eq!(clients_named(&api, "Example App").await, 2);

    let user = json!({"username": "ann", "password": "a long and unusual passphrase"});
    let created = post_with_key(&api, "/v1/users", "create-ann", &user).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let replayed = post_with_key(&api, "/v1/users", "create-ann", &user).await;
    assert_eq!(replayed.status(), 201);
    assert_eq!(replayed.json::<Value>().await.unwrap(), created);
}

async fn the_same_key_with_another_body_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let first = post_with_key(&api, "/v1/clients", "k-1", &web_app_body("One")).await;
    assert_eq!(first.status(), 201);
    let other = post_with_key(&api, "/v1/clients", "k-1", &web_app_body("Two")).await;
    assert_problem(other, 422, "idempotency-key-reused").await;
    assert_eq!(clients_named(&api, "Two").await, 0);

    for bad_key in ["", &"k".repeat(256), "tab\tkey"] {
        let response = post_with_key(&api, "/v1/clients", bad_key, &web_app_body("Three")).await;
        assert_eq!(
            invalid_fields(response).await,
            ["Idempotency-Key"],
            "{bad_key:?}"
        );
    }
    assert_eq!(clients_named(&api, "Three").await, 0);
}

async fn concurrent_requests_with_one_key_create_one_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let body = web_app_body("Raced");
    let requests = (0..6).map(|_| post_with_key(&api, "/v1/clients", "race", &body));
    let responses = futures_util::future::join_all(requests).await;

    let mut ids = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            201 => {
                let body: Value = response.json().await.unwrap();
                ids.push(body["client_id"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_problem(response, 409, "conflict").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!ids.is_empty());
    ids.dedup();
    assert_eq!(ids.len(), 1, "every success names the same client");
    assert_eq!(clients_named(&api, "Raced").await, 1);
}

/// How many users are named `username`.
async fn users_named(api: &AdminApi<'_>, username: &str) -> usize {
    let (page, _) = api.read(&format!("/v1/users?username={username}")).await;
    page["items"].as_array().unwrap().len()
}

/// Empties the app's ephemeral state as a Redis restart would: deletes every key under the
/// test's own Redis prefix, then starts a sibling instance on the same database (on the
/// embedded backend, the sibling's memory store is new and empty).
async fn forget_ephemeral_state(app: &TestApp) -> TestApp {
    if let gatehouse::config::EphemeralUrl::Redis(url) = &app.settings.ephemeral.url {
        let prefix = &app.settings.ephemeral.key_prefix;
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        let left: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(left.is_empty(), "the test's Redis keys are gone");
    }
    sibling(app).await
}

/// Another instance on the same database with the same issuer, so it accepts the app's tokens.
async fn sibling(app: &TestApp) -> TestApp {
    let issuer = app.issuer.parse().unwrap();
    app.spawn_sibling(|s| s.server.issuer = Some(issuer)).await
}

/// The same caller (the same admin token) on another instance.
fn same_caller<'a>(api: &AdminApi<'_>, on: &'a TestApp) -> AdminApi<'a> {
    AdminApi {
        app: on,
        token: api.token.clone(),
    }
}

async fn a_retry_after_the_ephemeral_store_is_emptied_replays_and_creates_nothing(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let body = web_app_body("Survivor");
    let first = post_with_key(&api, "/v1/clients", "survive-restart", &body).await;
    assert_eq!(first.status(), 201);
    let first_location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();
    let user = json!({"username": "ann", "password": "a long and unusual passphrase"});
    let created = post_with_key(&api, "/v1/users", "ann-once", &user).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();

    let sibling = forget_ephemeral_state(&app).await;
    let retrying = same_caller(&api, &sibling);

    let again = post_with_key(&retrying, "/v1/clients", "survive-restart", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], first_location);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        first_body,
        "the same client and secret"
    );
    assert_eq!(clients_named(&api, "Survivor").await, 1);

    let replayed = post_with_key(&retrying, "/v1/users", "ann-once", &user).await;
    assert_eq!(replayed.status(), 201);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap(), created);
    assert_eq!(users_named(&api, "ann").await, 1);

    // Another body under the key is still refused, by the database alone.
    let other = post_with_key(
        &retrying,
        "/v1/clients",
        "survive-restart",
        &web_app_body("X"),
    )
    .await;
    assert_problem(other, 422, "idempotency-key-reused").await;
}

async fn concurrent_requests_on_instances_sharing_no_marker_create_one_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    // On the embedded backend each instance has its own memory store: no marker is shared, and
    // only the database stands between the requests and a duplicate.
    let sibling = sibling(&app).await;
    let other = same_caller(&api, &sibling);
    let body = web_app_body("Raced twice");
    let requests = (0..8).map(|i| {
        let api = if i % 2 == 0 { &api } else { &other };
        post_with_key(api, "/v1/clients", "race-two", &body)
    });
    let responses = futures_util::future::join_all(requests).await;

    let mut secrets = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            201 => {
                let body: Value = response.json().await.unwrap();
                secrets.push(body["client_secret"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_problem(response, 409, "conflict").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!secrets.is_empty());
    secrets.dedup();
    assert_eq!(
        secrets.len(),
        1,
        "every success is the one client, with its secret"
    );
    assert_eq!(clients_named(&api, "Raced twice").await, 1);
}

async fn a_failed_attempt_is_not_replayed_and_does_not_hold_the_key(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    // Fails in validation, before anything is written: the retry fails the same way.
    let invalid = json!({"name": "Broken", "grant_types": ["telepathy"]});
    for _ in 0..2 {
        let response = post_with_key(&api, "/v1/clients", "k-broken", &invalid).await;
        assert_eq!(invalid_fields(response).await, ["grant_types[0]"]);
    }
    assert_eq!(clients_named(&api, "Broken").await, 0);

    // Fails in the transaction that would also have stored the record (the id is taken): the
    // record is rolled back with it, so once the id is free the retry creates the client.
    let mut body = web_app_body("Taken");
    body["client_id"] = json!("taken-id");
    let (_, etag) = api.create_client(&body).await;
    let refused = post_with_key(&api, "/v1/clients", "k-taken", &body).await;
    assert_problem(refused, 409, "conflict").await;
    let deleted = api.delete("/v1/clients/taken-id", Some(&etag)).await;
    assert_eq!(deleted.status(), 204);
    let retried = post_with_key(&api, "/v1/clients", "k-taken", &body).await;
    assert_eq!(retried.status(), 201);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    assert_eq!(clients_named(&api, "Taken").await, 1);

    let user = json!({"username": "bob"});
    api.create_user(&user).await;
    let refused = post_with_key(&api, "/v1/users", "k-bob", &user).await;
    assert_problem(refused, 409, "conflict").await;
    assert_eq!(users_named(&api, "bob").await, 1);
}

async fn one_key_on_another_endpoint_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let body = json!({"name": "same-body"});
    let created = post_with_key(&api, "/v1/clients", "k-shared", &body).await;
    assert_eq!(created.status(), 201);
    let elsewhere =
        post_with_key(&api, "/v1/users", "k-shared", &json!({"username": "carl"})).await;
    assert_problem(elsewhere, 422, "idempotency-key-reused").await;
    assert_eq!(users_named(&api, "carl").await, 0);
}

async fn the_remembered_response_is_sealed_and_expires_after_a_day(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = app
        .register_client(NewClient {
            name: "automation".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec![ADMIN.into()],
            ..NewClient::default()
        })
        .await;
    let api = AdminApi {
        app: &app,
        token: app.token_for(&admin).await,
    };
    let body = web_app_body("Sealed");
    let first = post_with_key(&api, "/v1/clients", "k-sealed", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let secret = first["client_secret"].as_str().unwrap();

    let record = app
        .state
        .db
        .find_idempotency_record(&admin.id, &sha256_hex(b"k-sealed"), app.clock.now())
        .await
        .unwrap()
        .expect("the record is in the database");
    assert_eq!(record.status, 201);
    let sealed = String::from_utf8_lossy(&record.sealed_response);
    assert!(!sealed.contains(secret) && !sealed.contains("Sealed"));
    assert!(
        !record.request_digest.contains("Sealed"),
        "a digest, not the body"
    );
    assert!(
        !record.key_digest.contains("k-sealed"),
        "a digest, not the key"
    );
    // Knowing the caller and the key is not enough to open it: the sealing key also depends on
    // the key-encryption key.
    let guessed = sha256(format!("gatehouse idempotency\0{}\0k-sealed", admin.id).as_bytes());
    let guessed = KeyEncryptionKey::new(&EncryptionKey::from_bytes(guessed)).unwrap();
    for aad in [&b""[..], b"gatehouse idempotent response"] {
        assert!(guessed.open(aad, &record.sealed_response).is_err());
    }

    app.clock.advance(Duration::from_secs(24 * 60 * 60));
    let api = AdminApi {
        app: &app,
        token: app.token_for(&admin).await,
    };
    let later = post_with_key(&api, "/v1/clients", "k-sealed", &body).await;
    assert_eq!(later.status(), 201);
    assert!(later.headers().get("idempotent-replayed").is_none());
    assert_eq!(
        clients_named(&api, "Sealed").await,
        2,
        "a day later, a new request"
    );
}

crate::on_every_backend!(
    a_retry_with_the_same_key_and_body_gets_the_first_response,
    the_same_key_with_another_body_is_refused,
    concurrent_requests_with_one_key_create_one_client,
    a_retry_after_the_ephemeral_store_is_emptied_replays_and_creates_nothing,
    concurrent_requests_on_instances_sharing_no_marker_create_one_client,
    a_failed_attempt_is_not_replayed_and_does_not_hold_the_key,
    one_key_on_another_endpoint_is_refused,
    the_remembered_response_is_sealed_and_expires_after_a_day,
);
