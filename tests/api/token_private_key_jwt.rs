//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): a client proves
//! itself with a short-lived JWT signed by a key it registered, usable once.

use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use gatehouse::crypto::{SigningKey, sign_jwt};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, RegisteredClient, TestApp, assert_oauth_error, confidential_client, spawn_app,
    spawn_app_with,
};
use crate::jose::es256_key;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A `private_key_jwt` client and the private key whose public half it registered.
async fn register_key_client(app: &TestApp) -> (RegisteredClient, SigningKey) {
    let key = es256_key();
    let client = app
        .register_client(NewClient {
            token_endpoint_auth_method: Some("private_key_jwt".into()),
            jwks: Some(json!({"keys": [key.public_jwk()]})),
            ..confidential_client()
        })
        .await;
    (client, key)
}

/// RFC 7523 §3 claims: `iss` = `sub` = client id, `aud` = the issuer, one minute to live.
fn claims(app: &TestApp, client: &RegisteredClient) -> Value {
    let now = app.now();
    json!({
        "iss": client.id,
        "sub": client.id,
        "aud": app.issuer,
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    sign_jwt(key, "JWT", claims).unwrap()
}

async fn post_assertion(app: &TestApp, assertion: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    app.post_token(&form, None).await
}

async fn token_accepts_a_private_key_jwt_assertion_for_either_audience(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let resource_server = app.register_client(confidential_client()).await;
    let to_issuer = sign(&key, &claims(&app, &client));
    let mut to_endpoint = claims(&app, &client);
    to_endpoint["aud"] = json!(format!("{}/oauth2/token", app.issuer));
    let to_endpoint = sign(&key, &to_endpoint);

    let first = post_assertion(&app, &to_issuer).await;
    let second = post_assertion(&app, &to_endpoint).await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    let body: Value = first.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let introspected = app.introspect(token, &resource_server).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["client_id"], client.id.as_str());
}

async fn token_rejects_a_replayed_assertion(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let assertion = sign(&key, &claims(&app, &client));

    let first = post_assertion(&app, &assertion).await;
    let replay = post_assertion(&app, &assertion).await;

    assert_eq!(first.status(), 200);
    assert_oauth_error(replay, 401, "invalid_client").await;
}

async fn token_rejects_an_assertion_signed_by_another_key(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, _key) = register_key_client(&app).await;

    let assertion = sign(&es256_key(), &claims(&app, &client));
    let response = post_assertion(&app, &assertion).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn token_rejects_an_expired_assertion(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let assertion = sign(&key, &claims(&app, &client));

    app.clock.advance(Duration::from_secs(120));
    let response = post_assertion(&app, &assertion).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn token_rejects_an_assertion_that_lives_too_long(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let mut claims = claims(&app, &client);
    claims["exp"] = json!(app.now() + 3700);

    let response = post_assertion(&app, &sign(&key, &claims)).await;

    let body = assert_oauth_error(response, 401, "invalid_client").await;
    // Both numbers, in the RFC 6749 §5.2 charset (no `"` or `\`).
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("3700"), "{description}");
    assert!(description.contains("3600"), "{description}");
    assert!(
        description
            .chars()
            .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
        "{description}"
    );
}

/// Authlib and other libraries send assertions living an hour: accepted by default, and each
/// `jti` is refused again for as long as its assertion lives (RFC 7523 §3).
async fn token_accepts_an_hour_long_assertion_once_for_its_whole_lifetime(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let mut claims = claims(&app, &client);
    claims["exp"] = json!(app.now() + 3600);
    let assertion = sign(&key, &claims);

    let first = post_assertion(&app, &assertion).await;
    app.clock.advance(Duration::from_secs(3500));
    let replay = post_assertion(&app, &assertion).await;

    assert_eq!(first.status(), 200);
    assert_oauth_error(replay, 401, "invalid_client").await;
    // Instances share the memory of used `jti`s only through Redis.
    if backend == Backend::Shared {
        let on_another_instance = app.spawn_instance().await;
        let replay_elsewhere = post_assertion(&on_another_instance, &assertion).await;
        assert_oauth_error(replay_elsewhere, 401, "invalid_client").await;
    }
}

/// A shorter configured maximum holds, and the description names it.
async fn token_honours_a_configured_assertion_lifetime(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.tokens.client_assertion_max_lifetime_secs = 120;
    })
    .await
    else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let mut claims = claims(&app, &client);
    claims["exp"] = json!(app.now() + 600);

    let response = post_assertion(&app, &sign(&key, &claims)).await;

    let body = assert_oauth_error(response, 401, "invalid_client").await;
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("600"), "{description}");
    assert!(description.contains("120"), "{description}");
}

async fn token_rejects_an_assertion_for_another_audience(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let mut claims = claims(&app, &client);
    claims["aud"] = json!("https://other-server.example.com");

    let response = post_assertion(&app, &sign(&key, &claims)).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

/// Signs `claims` under a header that adds `extra` fields to the usual `alg`, `kid`, `typ`.
fn sign_with_header(key: &SigningKey, extra: &Value, claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let mut header = json!({"alg": key.algorithm().as_str(), "kid": key.kid(), "typ": "JWT"});
    for (name, value) in extra.as_object().unwrap() {
        header[name] = value.clone();
    }
    let message = format!("{}.{}", b64(&header), b64(claims));
    let signature = key.sign(message.as_bytes()).unwrap();
    format!(
        "{message}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    )
}

/// RFC 7515 §4.1.11: an extension listed in `crit` that the recipient does not understand
/// makes the JWS invalid; Gatehouse understands none. A header without `crit` still passes.
async fn token_rejects_an_assertion_with_critical_extensions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;

    let critical = sign_with_header(
        &key,
        &json!({"crit": ["urn:example:policy"], "urn:example:policy": "strict"}),
        &claims(&app, &client),
    );
    let empty = sign_with_header(&key, &json!({"crit": []}), &claims(&app, &client));
    let plain = sign_with_header(&key, &json!({}), &claims(&app, &client));

    assert_oauth_error(post_assertion(&app, &critical).await, 401, "invalid_client").await;
    assert_oauth_error(post_assertion(&app, &empty).await, 401, "invalid_client").await;
    assert_eq!(post_assertion(&app, &plain).await.status(), 200);
}

async fn token_rejects_an_hs256_assertion(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    let secret = key.public_jwk().to_string();

    let assertion = encode(
        &header,
        &claims(&app, &client),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let response = post_assertion(&app, &assertion).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn token_rejects_an_assertion_whose_issuer_is_another_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, key) = register_key_client(&app).await;
    let other = app.register_client(confidential_client()).await;
    let mut claims = claims(&app, &client);
    claims["iss"] = json!(other.id);

    let response = post_assertion(&app, &sign(&key, &claims)).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

crate::on_every_backend!(
    token_rejects_an_assertion_with_critical_extensions,
    token_accepts_a_private_key_jwt_assertion_for_either_audience,
    token_rejects_a_replayed_assertion,
    token_rejects_an_assertion_signed_by_another_key,
    token_rejects_an_expired_assertion,
    token_rejects_an_assertion_that_lives_too_long,
    token_accepts_an_hour_long_assertion_once_for_its_whole_lifetime,
    token_honours_a_configured_assertion_lifetime,
    token_rejects_an_assertion_for_another_audience,
    token_rejects_an_hs256_assertion,
    token_rejects_an_assertion_whose_issuer_is_another_client,
);
