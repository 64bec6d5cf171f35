//! `Idempotency-Key` on creating POSTs: a retry gets the first response back (the secret
//! included), another body with the same key is refused, and a race creates one resource.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, assert_problem, invalid_fields, web_app_body};
use crate::helpers::{Backend, spawn_app};

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

crate::on_every_backend!(
    a_retry_with_the_same_key_and_body_gets_the_first_response,
    the_same_key_with_another_body_is_refused,
    concurrent_requests_with_one_key_create_one_client,
);
