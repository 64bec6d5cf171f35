//! The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750): `sub` plus what the
//! granted scopes release, the token in the header or the form body but not both, and a
//! `Bearer` challenge for any token that is missing, malformed, expired, revoked or forged.

use std::time::Duration;

use gatehouse::admin::clients::{NewClient, validate_new_client};
use gatehouse::clock::Clock as _;
use gatehouse::crypto::PlainSecret;
use gatehouse::domain::ClientId;
use gatehouse::store::ClientSecretRecord;
use serde_json::{Value, json};

use crate::flow::{PASSWORD, get_userinfo, sign_in_and_exchange, web_client};
use crate::helpers::{
    Backend, RegisteredClient, TestApp, assert_no_store, assert_oauth_error, confidential_client,
    spawn_app,
};
use crate::jose::{es256_key, forge, segment, with_payload};

/// Ann's access token for a web client, with `scopes`.
async fn token_with(app: &TestApp, scopes: &[&str]) -> (RegisteredClient, String) {
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(app, &client, scopes, "ann").await;
    (client, signed_in.access_token)
}

async fn post_userinfo(
    app: &TestApp,
    form: &[(&str, &str)],
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/oauth2/userinfo", app.address))
        .form(form);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// RFC 6750 §3: 401 with a `Bearer` challenge naming `invalid_token`.
async fn assert_invalid_token(response: reqwest::Response) {
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_oauth_error(response, 401, "invalid_token").await;
}

async fn userinfo_returns_sub_and_the_claims_of_the_granted_scopes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, openid_only) = token_with(&app, &["openid"]).await;
    let with_email = sign_in_and_exchange(&app, &client, &["openid", "email"], "ann").await;
    let with_profile = sign_in_and_exchange(&app, &client, &["openid", "profile"], "ann").await;
    let sub = app.introspect(&openid_only, &client).await["sub"].clone();

    let response = get_userinfo(&app, &openid_only).await;
    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    let openid_claims: Value = response.json().await.unwrap();
    let email_claims: Value = get_userinfo(&app, &with_email.access_token)
        .await
        .json()
        .await
        .unwrap();
    let profile_claims: Value = get_userinfo(&app, &with_profile.access_token)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(openid_claims, json!({"sub": sub}));
    assert_eq!(email_claims["sub"], sub);
    assert_eq!(email_claims["email"], "ann@example.com");
    assert_eq!(email_claims["email_verified"], true);
    assert_eq!(
        email_claims.get("preferred_username"),
        None,
        "{email_claims}"
    );
    assert_eq!(profile_claims["sub"], sub);
    assert_eq!(profile_claims["preferred_username"], "ann");
    assert_eq!(profile_claims["name"], "ann Example");
    assert_eq!(profile_claims.get("email"), None, "{profile_claims}");
}

async fn userinfo_accepts_the_token_in_a_form_body(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = token_with(&app, &["openid", "email"]).await;

    let response = post_userinfo(&app, &[("access_token", &token)], None).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "ann@example.com");
}

async fn userinfo_refuses_a_token_in_both_the_header_and_the_body(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = token_with(&app, &["openid"]).await;

    let response = post_userinfo(&app, &[("access_token", &token)], Some(&token)).await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn userinfo_challenges_a_request_without_credentials_without_an_error_code(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    let get = app.get("/oauth2/userinfo").await;
    let post = post_userinfo(&app, &[], None).await;
    let empty_bearer = app
        .client
        .get(format!("{}/oauth2/userinfo", app.address))
        .header("authorization", "Bearer")
        .send()
        .await
        .unwrap();

    let basic = app
        .client
        .post(format!("{}/oauth2/userinfo", app.address))
        .header("authorization", "Basic !!!")
        .form(&[("a", "b")])
        .send()
        .await
        .unwrap();

    // RFC 6750 §3.1: no credentials, so a challenge without an error code
    for response in [get, post, empty_bearer, basic] {
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="gatehouse""#
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({}));
    }
}

async fn userinfo_challenges_a_malformed_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };

    for malformed in ["garbage", "a.b.c", "eyJhbGciOiJFUzI1NiJ9..", "a b"] {
        assert_invalid_token(get_userinfo(&app, malformed).await).await;
    }
}

async fn userinfo_challenges_an_expired_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = token_with(&app, &["openid"]).await;
    let lifetime = app.settings.tokens.access_token_ttl_secs;
    app.clock
        .advance(Duration::from_secs(u64::from(lifetime) + 1));

    assert_invalid_token(get_userinfo(&app, &token).await).await;
}

async fn userinfo_challenges_a_revoked_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = token_with(&app, &["openid"]).await;
    assert_eq!(get_userinfo(&app, &token).await.status(), 200);

    let revoked = app.post_revoke(&[("token", &token)], client.basic()).await;
    assert_eq!(revoked.status(), 200);

    assert_invalid_token(get_userinfo(&app, &token).await).await;
}

async fn userinfo_challenges_a_forged_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = token_with(&app, &["openid"]).await;
    let (header, claims) = (segment(&token, 0), segment(&token, 1));
    let mut unsigned_header = header.clone();
    unsigned_header["alg"] = json!("none");
    let impostor = es256_key();
    let mut widened = claims.clone();
    widened["scope"] = json!("openid email profile");
    let mut someone_else = claims.clone();
    someone_else["sub"] = json!(uuid::Uuid::new_v4().to_string());

    let forgeries = [
        forge(&unsigned_header, &claims, |_| Vec::new()),
        forge(&header, &claims, |input| impostor.sign(input).unwrap()),
        with_payload(&token, &widened),
        with_payload(&token, &someone_else),
    ];

    for forged in forgeries {
        assert_invalid_token(get_userinfo(&app, &forged).await).await;
    }
}

async fn userinfo_challenges_an_id_token_used_as_an_access_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let signed_in = sign_in_and_exchange(&app, &client, &["openid"], "ann").await;

    let response = get_userinfo(&app, &signed_in.id_token.unwrap()).await;

    assert_invalid_token(response).await;
}

async fn userinfo_refuses_a_token_without_the_openid_scope(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, user_token) = token_with(&app, &["orders:read"]).await;
    let service = app.register_client(confidential_client()).await;
    let service_token = app.token_for(&service).await;

    for token in [user_token, service_token] {
        let response = get_userinfo(&app, &token).await;
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        assert_oauth_error(response, 403, "insufficient_scope").await;
    }
}

async fn userinfo_refuses_a_client_token_even_when_the_client_id_is_a_users_subject(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let ann = app.create_user("ann", PASSWORD).await;
    // A client registered before such ids were refused: stored directly, its id ann's `sub`.
    let now = app.clock.now();
    let request = NewClient {
        client_id: Some("legacy".into()),
        scopes: vec!["openid".into(), "email".into()],
        ..confidential_client()
    };
    let mut legacy = validate_new_client(request, &app.settings.keys.algorithms, now).unwrap();
    legacy.id = ClientId::parse(&ann.id.to_string()).unwrap();
    let secret = PlainSecret::generate();
    let record = ClientSecretRecord {
        id: uuid::Uuid::now_v7(),
        digest: secret.digest(),
        created_at: now,
        expires_at: None,
    };
    app.state
        .db
        .insert_client(&legacy, Some(&record))
        .await
        .unwrap();
    let client = RegisteredClient {
        id: legacy.id.to_string(),
        secret: Some(secret.expose().to_owned()),
    };
    let token = app.token_for(&client).await;
    assert_eq!(
        app.introspect(&token, &client).await["sub"],
        ann.id.to_string()
    );

    let response = get_userinfo(&app, &token).await;

    assert_invalid_token(response).await;
}

crate::on_every_backend!(
    userinfo_returns_sub_and_the_claims_of_the_granted_scopes,
    userinfo_accepts_the_token_in_a_form_body,
    userinfo_refuses_a_token_in_both_the_header_and_the_body,
    userinfo_challenges_a_request_without_credentials_without_an_error_code,
    userinfo_challenges_a_malformed_token,
    userinfo_challenges_an_expired_token,
    userinfo_challenges_a_revoked_token,
    userinfo_challenges_a_forged_token,
    userinfo_challenges_an_id_token_used_as_an_access_token,
    userinfo_refuses_a_token_without_the_openid_scope,
    userinfo_refuses_a_client_token_even_when_the_client_id_is_a_users_subject,
);
