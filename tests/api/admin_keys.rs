//! `/v1/keys`: the key ring's lifecycle as admins see it, and rotation on demand.

use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, assert_problem, invalid_fields};
use crate::helpers::{Backend, spawn_app};

/// The states of the `alg` keys, sorted.
fn states(list: &Value, alg: &str) -> Vec<String> {
    let mut states: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg)
        .map(|k| k["state"].as_str().unwrap().to_owned())
        .collect();
    states.sort();
    states
}

async fn the_keys_are_listed_with_their_lifecycle(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (list, _) = read_list(&api, "/v1/keys").await;
    assert_eq!(states(&list, "ES256"), ["active"]);
    assert_eq!(states(&list, "RS256"), ["active"]);
    let key = &list["items"][0];
    for field in ["kid", "alg", "state", "created_at", "activates_at"] {
        assert!(key[field].is_string(), "{field} in {key}");
    }
    assert!(
        !key.to_string().contains("\"d\""),
        "no private parts: {key}"
    );
    let with_query = api.get("/v1/keys?limit=5").await;
    assert_eq!(invalid_fields(with_query).await, ["limit"]);
}

async fn a_rotation_stages_a_successor_or_replaces_the_key_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let response = api.post("/v1/keys/rotate", &json!({"alg": "ES256"})).await;
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    assert_eq!(states(&rotated, "ES256"), ["next"]);
    let (list, _) = read_list(&api, "/v1/keys").await;
    assert_eq!(states(&list, "ES256"), ["active", "next"]);

    let again = api.post("/v1/keys/rotate", &json!({"alg": "ES256"})).await;
    assert_problem(again, 409, "conflict").await;

    let response = api
        .post(
            "/v1/keys/rotate",
            &json!({"alg": "ES256", "immediately": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (list, _) = read_list(&api, "/v1/keys").await;
    assert_eq!(states(&list, "ES256"), ["active", "retired"]);
    // The caller's token was signed by the retired key, which is still published.
    assert_eq!(api.get("/v1/keys").await.status(), 200);

    let unknown = api.post("/v1/keys/rotate", &json!({"alg": "HS256"})).await;
    assert_eq!(invalid_fields(unknown).await, ["alg"]);
    let not_configured = api.post("/v1/keys/rotate", &json!({"alg": "EdDSA"})).await;
    assert_eq!(invalid_fields(not_configured).await, ["alg"]);
    let extra = api.post("/v1/keys/rotate", &json!({"now": true})).await;
    assert_eq!(invalid_fields(extra).await, ["now"]);
}

async fn read_list(api: &AdminApi<'_>, path: &str) -> (Value, u16) {
    let response = api.get(path).await;
    let status = response.status().as_u16();
    assert_eq!(status, 200);
    (response.json().await.unwrap(), status)
}

crate::on_every_backend!(
    the_keys_are_listed_with_their_lifecycle,
    a_rotation_stages_a_successor_or_replaces_the_key_at_once,
);
