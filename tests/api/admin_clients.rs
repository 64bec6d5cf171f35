//! `/v1/clients`: the whole lifecycle, the validation rules, secret rotation, and the same
//! records whether the CLI or the API made them.

use std::time::Duration;

use gatehouse::admin::clients::{NewClient, create_client, find_client};
use gatehouse::clock::Clock as _;
use serde_json::{Value, json};

use crate::admin_helpers::{AdminApi, assert_problem, etag_of, invalid_fields, web_app_body};
use crate::helpers::{Backend, RegisteredClient, spawn_app};

async fn a_client_is_registered_read_replaced_patched_and_deleted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;

    let response = api.post("/v1/clients", &web_app_body("Example App")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(etag_of(&response), "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/clients/{id}"));
    assert!(created["client_secret"].as_str().unwrap().len() >= 32);
    assert_eq!(created["client_type"], "confidential");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert!(created.get("version").is_none(), "{created}");

    let (read, etag) = api.read(&location).await;
    assert_eq!(etag, "\"1\"");
    let mut without_secret = created.clone();
    without_secret
        .as_object_mut()
        .unwrap()
        .remove("client_secret");
    assert_eq!(read, without_secret);

    let mut replacement = web_app_body("Renamed App");
    replacement["scopes"] = json!(["openid"]);
    let response = api.put(&location, &replacement, &etag).await;
    assert_eq!(response.status(), 200);
    assert_eq!(etag_of(&response), "\"2\"");
    let replaced: Value = response.json().await.unwrap();
    assert_eq!(replaced["name"], "Renamed App");
    assert_eq!(replaced["scopes"], json!(["openid"]));
    assert!(replaced.get("client_secret").is_none());

    let response = api
        .patch(&location, &json!({"first_party": true}), "\"2\"")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(etag_of(&response), "\"3\"");
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["first_party"], true);
    assert_eq!(patched["name"], "Renamed App");

    let response = api.delete(&location, Some("\"3\"")).await;
    assert_eq!(response.status(), 204);
    assert_problem(api.get(&location).await, 404, "not-found").await;
}

async fn a_rotated_secret_works_and_the_old_one_lasts_for_the_overlap(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (created, _) = api
        .create_client(&json!({"name": "billing", "scopes": ["orders:read"]}))
        .await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let old = RegisteredClient {
        id: id.clone(),
        secret: Some(created["client_secret"].as_str().unwrap().to_owned()),
    };
    app.token_for(&old).await;

    let response = api
        .post(
            &format!("/v1/clients/{id}/secret"),
            &json!({"overlap_secs": 60}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    assert_eq!(rotated["client_id"], id.as_str());
    assert!(rotated["previous_secrets_expire_at"].is_string());
    let new = RegisteredClient {
        id: id.clone(),
        secret: Some(rotated["client_secret"].as_str().unwrap().to_owned()),
    };
    assert_ne!(new.secret, old.secret);
    app.token_for(&new).await;
    app.token_for(&old).await;

    app.clock.advance(Duration::from_secs(61));
    app.token_for(&new).await;
    let form = [("grant_type", "client_credentials")];
    let response = app.post_token(&form, old.basic()).await;
    crate::helpers::assert_oauth_error(response, 401, "invalid_client").await;
}

async fn a_rotation_outside_its_bounds_or_without_a_secret_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (confidential, _) = api.create_client(&json!({"name": "billing"})).await;
    let path = format!(
        "/v1/clients/{}/secret",
        confidential["client_id"].as_str().unwrap()
    );
    let too_long = api.post(&path, &json!({"overlap_secs": 2_592_001})).await;
    assert_eq!(invalid_fields(too_long).await, ["overlap_secs"]);
    let unknown = api.post(&path, &json!({"overlap": 5})).await;
    assert_eq!(invalid_fields(unknown).await, ["overlap"]);
    // No body at all: the default overlap.
    let response = api
        .request(reqwest::Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (public, _) = api
        .create_client(&json!({
            "name": "spa", "public": true,
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://spa.example.com/cb"],
        }))
        .await;
    assert!(public.get("client_secret").is_none(), "{public}");
    let path = format!(
        "/v1/clients/{}/secret",
        public["client_id"].as_str().unwrap()
    );
    let response = api.post(&path, &json!({})).await;
    assert_eq!(
        invalid_fields(response).await,
        ["token_endpoint_auth_method"]
    );
    let missing = api.post("/v1/clients/nobody/secret", &json!({})).await;
    assert_problem(missing, 404, "not-found").await;
}

async fn redirect_uris_follow_the_scheme_rules(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let mut body = web_app_body("native");
    body["redirect_uris"] = json!([
        "http://app.example.com/cb",
        "https://app.example.com/cb#fragment",
        "javascript:alert(1)",
        "/relative",
        "ftp://files.example.com/",
    ]);
    let fields = invalid_fields(api.post("/v1/clients", &body).await).await;
    assert_eq!(
        fields,
        [
            "redirect_uris[0]",
            "redirect_uris[1]",
            "redirect_uris[2]",
            "redirect_uris[3]",
            "redirect_uris[4]",
            "redirect_uris"
        ]
    );

    body["redirect_uris"] = json!([
        "https://app.example.com/cb",
        "http://127.0.0.1:8080/cb",
        "http://localhost/cb",
        "com.example.app:/oauth2redirect",
    ]);
    let (created, _) = api.create_client(&body).await;
    assert_eq!(created["redirect_uris"].as_array().unwrap().len(), 4);
}

async fn unknown_fields_wrong_types_and_unknown_grants_are_named(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let cases = [
        (json!({"name": "a", "colour": "red"}), "colour"),
        (json!({"name": 3}), "name"),
        (json!({"public": true}), "name"),
        (
            json!({"name": "a", "redirect_uris": [1]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "a", "access_token_ttl_secs": -5}),
            "access_token_ttl_secs",
        ),
        (
            json!({"name": "a", "grant_types": ["password"]}),
            "grant_types[0]",
        ),
        (json!({"name": "a", "scopes": ["has space"]}), "scopes[0]"),
        (json!({"name": "a", "require_mfa": "yes"}), "require_mfa"),
        (
            json!({"name": "a", "access_token_ttl_secs": 0}),
            "access_token_ttl_secs",
        ),
        (
            json!({"name": "a", "id_token_signed_response_alg": "HS256"}),
            "id_token_signed_response_alg",
        ),
        // A known algorithm, but not one of keys.algorithms (ES256 and RS256 by default).
        (
            json!({"name": "a", "id_token_signed_response_alg": "EdDSA"}),
            "id_token_signed_response_alg",
        ),
        (
            json!({"name": "a", "client_id": "no spaces please"}),
            "client_id",
        ),
        (json!([{"name": "a"}]), "<body>"),
    ];
    for (body, field) in cases {
        let response = api.post("/v1/clients", &body).await;
        let problem = assert_problem(response, 422, "validation-error").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body} → {problem}");
        assert!(problem["errors"][0]["problem"].is_string());
    }
}

/// RFC 8259 §4: a repeated member name is unpredictable (serde would keep the last one, so a
/// reviewer reading the first would be misled): 400 naming the key, nothing stored.
async fn a_body_with_a_repeated_key_is_refused_and_the_key_named(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (clients_before, _) = api.read("/v1/clients?limit=200").await;

    let bodies = [
        (
            r#"{"name": "a", "scopes": ["openid"], "scopes": ["gatehouse:admin"]}"#,
            "scopes",
        ),
        (r#"{"name": "a", "name": "b"}"#, "name"),
    ];
    for (body, field) in bodies {
        let response = api
            .request(reqwest::Method::POST, "/v1/clients")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 400, "malformed-request").await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(&format!("`{field}`")), "{body} → {problem}");
    }
    let (clients_after, _) = api.read("/v1/clients?limit=200").await;
    assert_eq!(clients_after, clients_before);
}

async fn a_request_that_fails_validation_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (created, etag) = api.create_client(&web_app_body("Example App")).await;
    let path = format!("/v1/clients/{}", created["client_id"].as_str().unwrap());
    let (before, _) = api.read(&path).await;
    let (clients_before, _) = api.read("/v1/clients?limit=200").await;

    let mut bad = web_app_body("Renamed");
    bad["redirect_uris"] = json!(["http://evil.example.com/cb"]);
    assert_eq!(api.put(&path, &bad, &etag).await.status(), 422);
    let bad_patch = json!({"name": "Renamed", "grant_types": ["password"]});
    assert_eq!(api.patch(&path, &bad_patch, &etag).await.status(), 422);
    let secret_to_none = json!({"public": true, "token_endpoint_auth_method": "none"});
    assert_eq!(api.patch(&path, &secret_to_none, &etag).await.status(), 422);
    let mut bad_new = web_app_body("Another");
    bad_new["grant_types"] = json!(["implicit"]);
    assert_eq!(api.post("/v1/clients", &bad_new).await.status(), 422);

    let (after, etag_after) = api.read(&path).await;
    assert_eq!(after, before);
    assert_eq!(etag_after, etag);
    let (clients_after, _) = api.read("/v1/clients?limit=200").await;
    assert_eq!(clients_after, clients_before);
}

async fn a_put_may_repeat_the_client_id_but_not_change_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let mut body = web_app_body("Example App");
    body["client_id"] = json!("example-app");
    let (_, etag) = api.create_client(&body).await;
    let response = api.put("/v1/clients/example-app", &body, &etag).await;
    assert_eq!(response.status(), 200);
    body["client_id"] = json!("another-id");
    let response = api.put("/v1/clients/example-app", &body, "*").await;
    assert_eq!(invalid_fields(response).await, ["client_id"]);
    body["client_id"] = json!("example-app");
    let taken = api.post("/v1/clients", &body).await;
    assert_problem(taken, 409, "conflict").await;
}

async fn a_client_id_spelled_as_a_uuid_is_refused_and_nothing_is_stored(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (clients_before, _) = api.read("/v1/clients?limit=200").await;
    let user = uuid::Uuid::new_v4();

    for spelling in [
        user.to_string(),
        user.simple().to_string(),
        user.to_string().to_uppercase(),
        user.simple().to_string().to_uppercase(),
    ] {
        let mut body = web_app_body("Looks Like A User");
        body["client_id"] = json!(spelling);
        let response = api.post("/v1/clients", &body).await;
        let problem = assert_problem(response, 422, "validation-error").await;
        assert_eq!(problem["errors"][0]["field"], "client_id", "{problem}");
        let said = problem["errors"][0]["problem"].as_str().unwrap();
        assert!(said.contains("UUID"), "{said}");
    }

    let (clients_after, _) = api.read("/v1/clients?limit=200").await;
    assert_eq!(clients_after, clients_before);
}

async fn the_cli_and_the_api_make_the_same_record(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let request = |id: &str| NewClient {
        client_id: Some(id.into()),
        name: "Example App".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "profile".into()],
        redirect_uris: vec!["https://app.example.com/callback".into()],
        audiences: vec!["https://api.example.com".into()],
        access_token_ttl_secs: Some(600),
        first_party: true,
        require_mfa: true,
        ..NewClient::default()
    };
    let db = app.state.db.as_ref();
    let signing = &app.settings.keys.algorithms;
    create_client(db, request("made-by-cli"), signing, "cli", app.clock.now())
        .await
        .unwrap();
    let mut body = web_app_body("Example App");
    body["client_id"] = json!("made-by-api");
    body["audiences"] = json!(["https://api.example.com"]);
    body["access_token_ttl_secs"] = json!(600);
    body["first_party"] = json!(true);
    body["require_mfa"] = json!(true);
    api.create_client(&body).await;

    let (by_cli, _) = api.read("/v1/clients/made-by-cli").await;
    let (mut by_api, _) = api.read("/v1/clients/made-by-api").await;
    let stored = find_client(db, "made-by-cli").await.unwrap();
    assert_eq!(by_cli, serde_json::to_value(&stored).unwrap());
    by_api["client_id"] = json!("made-by-cli");
    assert_eq!(by_api, by_cli);
    assert_eq!(by_cli["require_mfa"], true);
}

/// Issue 12: a client may require a second factor (`urn:gatehouse:acr:mfa`) of every sign-in.
/// Off unless asked for; kept by a patch that does not name it, and replaced by a `PUT` that
/// leaves it out, as every other field is.
async fn require_mfa_is_off_by_default_and_is_stored_patched_and_replaced(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let (plain, _) = api.create_client(&web_app_body("Plain")).await;
    assert_eq!(plain["require_mfa"], false);

    let mut body = web_app_body("Payroll");
    body["require_mfa"] = json!(true);
    let (created, etag) = api.create_client(&body).await;
    assert_eq!(created["require_mfa"], true);
    let path = format!("/v1/clients/{}", created["client_id"].as_str().unwrap());
    let (read, _) = api.read(&path).await;
    assert_eq!(read["require_mfa"], true);

    let response = api.patch(&path, &json!({"name": "Payroll 2"}), &etag).await;
    assert_eq!(response.status(), 200);
    let etag = etag_of(&response);
    assert_eq!(api.read(&path).await.0["require_mfa"], true, "kept");

    let response = api
        .patch(&path, &json!({"require_mfa": false}), &etag)
        .await;
    assert_eq!(response.status(), 200);
    let etag = etag_of(&response);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["require_mfa"], false);
    assert_eq!(api.read(&path).await.0["require_mfa"], false);

    let response = api.patch(&path, &json!({"require_mfa": true}), &etag).await;
    assert_eq!(response.status(), 200);
    let etag = etag_of(&response);
    assert_eq!(api.read(&path).await.0["require_mfa"], true);

    let bad = api
        .patch(&path, &json!({"require_mfa": "yes"}), &etag)
        .await;
    // A merge patch is checked after merging, where serde names no member of a wrong type.
    let problem = assert_problem(bad, 422, "validation-error").await;
    let said = problem["errors"][0]["problem"].as_str().unwrap();
    assert!(said.contains("expected a boolean"), "{problem}");
    let (unchanged, same_etag) = api.read(&path).await;
    assert_eq!(unchanged["require_mfa"], true);
    assert_eq!(same_etag, etag);

    let response = api.put(&path, &web_app_body("Payroll"), &etag).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        api.read(&path).await.0["require_mfa"],
        false,
        "a PUT replaces it"
    );
}

crate::on_every_backend!(
    a_body_with_a_repeated_key_is_refused_and_the_key_named,
    a_client_is_registered_read_replaced_patched_and_deleted,
    a_rotated_secret_works_and_the_old_one_lasts_for_the_overlap,
    a_rotation_outside_its_bounds_or_without_a_secret_is_refused,
    redirect_uris_follow_the_scheme_rules,
    unknown_fields_wrong_types_and_unknown_grants_are_named,
    a_request_that_fails_validation_changes_nothing,
    a_put_may_repeat_the_client_id_but_not_change_it,
    a_client_id_spelled_as_a_uuid_is_refused_and_nothing_is_stored,
    the_cli_and_the_api_make_the_same_record,
    require_mfa_is_off_by_default_and_is_stored_patched_and_replaced,
);
