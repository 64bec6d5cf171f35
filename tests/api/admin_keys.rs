//! `/v1/keys`: the key ring's lifecycle as admins see it, and rotation on demand.

use gatehouse::clock::Clock as _;
use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, assert_problem, invalid_fields};
use crate::flow::{PASSWORD, get_userinfo, sign_in_and_exchange, web_client};
use crate::helpers::{Backend, TestApp, confidential_client, spawn_app};
use crate::jose::segment;

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

/// The kids the JWKS publishes.
async fn published_kids(app: &TestApp) -> Vec<String> {
    app.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    segment(token, 0)["kid"].as_str().unwrap().to_owned()
}

async fn revoking_a_key_takes_it_out_of_the_jwks_and_refuses_everything_it_signed(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let web = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let ann = sign_in_and_exchange(&app, &web, &["openid"], "ann").await;
    let service = app.register_client(confidential_client()).await;
    let service_token = app.token_for(&service).await;
    let es256 = kid_of(&api.token);
    assert_eq!(kid_of(&ann.access_token), es256);
    assert_eq!(get_userinfo(&app, &ann.access_token).await.status(), 200);

    let response = api
        .post(&format!("/v1/keys/{es256}/revoke"), &json!({}))
        .await;

    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert_eq!(revoked["kid"], es256.as_str());
    assert_eq!(revoked["alg"], "ES256");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let successor = revoked["successor"]["kid"].as_str().unwrap().to_owned();
    assert_ne!(successor, es256);
    assert_eq!(revoked["successor"]["state"], "active");
    let published = published_kids(&app).await;
    assert!(!published.contains(&es256), "{published:?}");
    assert!(published.contains(&successor), "{published:?}");
    // everything it signed is refused: introspection, userinfo, /v1
    assert_eq!(
        app.introspect(&service_token, &service).await,
        json!({"active": false})
    );
    assert_eq!(
        app.introspect(&ann.access_token, &service).await,
        json!({"active": false})
    );
    assert_eq!(get_userinfo(&app, &ann.access_token).await.status(), 401);
    assert_eq!(api.get("/v1/keys").await.status(), 401);
    // the successor signs, and its tokens are accepted
    let fresh = app.token_for(&service).await;
    assert_eq!(kid_of(&fresh), successor);
    assert_eq!(app.introspect(&fresh, &service).await["active"], true);
    let api = AdminApi::new(&app).await;
    let (list, _) = read_list(&api, "/v1/keys").await;
    assert_eq!(states(&list, "ES256"), ["active"]);
    assert!(!list.to_string().contains(&es256), "{list}");

    // idempotent: the first revocation again, nothing new
    let again = api
        .post(&format!("/v1/keys/{es256}/revoke"), &json!({}))
        .await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    assert_eq!(again["successor"], Value::Null);
    let unknown = api.post("/v1/keys/no-such-kid/revoke", &json!({})).await;
    assert_problem(unknown, 404, "not-found").await;
    let audit = app.state.db.recent_audit_events(50).await.unwrap();
    let revocations: Vec<_> = audit
        .iter()
        .filter(|e| e.event.action == "signing_key.revoked")
        .collect();
    assert_eq!(revocations.len(), 1, "{audit:?}");
    assert_eq!(
        revocations[0].event.target_id.as_deref(),
        Some(es256.as_str())
    );

    // maintenance, however late, never brings it back
    app.clock
        .advance(std::time::Duration::from_secs(40 * 86_400));
    app.state
        .keys
        .maintain(app.clock.now(), "test")
        .await
        .unwrap();
    assert!(!published_kids(&app).await.contains(&es256));
    assert!(app.state.keys.published_key(&es256).is_none());
}

async fn a_retired_key_can_be_revoked_and_leaves_the_signing_key_alone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let old = kid_of(&api.token);
    let rotated = api
        .post(
            "/v1/keys/rotate",
            &json!({"alg": "ES256", "immediately": true}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let api = AdminApi::new(&app).await;
    let active = kid_of(&api.token);

    let response = api
        .post(&format!("/v1/keys/{old}/revoke"), &json!({}))
        .await;

    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert_eq!(
        revoked["successor"],
        Value::Null,
        "a retired key needs none"
    );
    assert_eq!(kid_of(&AdminApi::new(&app).await.token), active);
    let (list, _) = read_list(&api, "/v1/keys").await;
    assert_eq!(states(&list, "ES256"), ["active"]);
}

async fn the_incident_procedure_signs_with_new_keys_and_distrusts_the_old_ones(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let service = app.register_client(confidential_client()).await;
    let before = app.token_for(&service).await;
    let old: Vec<String> = published_kids(&app).await;
    assert_eq!(old.len(), 2);
    let without_now = api
        .post("/v1/keys/rotate", &json!({"revoke_current": true}))
        .await;
    assert_eq!(invalid_fields(without_now).await, ["revoke_current"]);

    let response = api
        .post(
            "/v1/keys/rotate",
            &json!({"immediately": true, "revoke_current": true}),
        )
        .await;

    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    assert_eq!(states(&rotated, "ES256"), ["active"]);
    assert_eq!(states(&rotated, "RS256"), ["active"]);
    let mut revoked: Vec<String> = rotated["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kid"].as_str().unwrap().to_owned())
        .collect();
    revoked.sort();
    let mut expected = old.clone();
    expected.sort();
    assert_eq!(revoked, expected);
    let published = published_kids(&app).await;
    assert_eq!(published.len(), 2, "only the successors: {published:?}");
    assert!(old.iter().all(|kid| !published.contains(kid)));
    assert_eq!(
        app.introspect(&before, &service).await,
        json!({"active": false})
    );
    assert_eq!(api.get("/v1/keys").await.status(), 401);
    let after = app.token_for(&service).await;
    assert!(published.contains(&kid_of(&after)));
    assert_eq!(app.introspect(&after, &service).await["active"], true);
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
    revoking_a_key_takes_it_out_of_the_jwks_and_refuses_everything_it_signed,
    a_retired_key_can_be_revoked_and_leaves_the_signing_key_alone,
    the_incident_procedure_signs_with_new_keys_and_distrusts_the_old_ones,
);
