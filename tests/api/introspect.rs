//! Token introspection (RFC 7662): only authenticated clients may ask, and anything that is not a
//! live access token of this issuer is exactly `{"active": false}`.

use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use gatehouse::crypto::SigningAlgorithm;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, RegisteredClient, TestApp, assert_no_store, assert_oauth_error, confidential_client,
    spawn_app,
};
use crate::jose::{es256_key, forge, segment, unb64, with_payload};

/// A client and a live token of its own, scoped `orders:read`.
async fn client_with_token(app: &TestApp) -> (RegisteredClient, String) {
    let client = app.register_client(confidential_client()).await;
    let response = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:read"),
            ],
            client.basic(),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    (client, body["access_token"].as_str().unwrap().to_owned())
}

fn inactive() -> Value {
    json!({"active": false})
}

async fn introspect_rejects_an_unauthenticated_caller(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = client_with_token(&app).await;

    let response = app.post_introspect(&[("token", &token)], None).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn introspect_rejects_a_public_client(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = client_with_token(&app).await;
    let public = app
        .register_client(NewClient {
            name: "spa".into(),
            public: true,
            grant_types: vec!["authorization_code".into()],
            redirect_uris: vec!["https://spa.example.com/callback".into()],
            ..NewClient::default()
        })
        .await;

    let form = [("token", token.as_str()), ("client_id", &public.id)];
    let response = app.post_introspect(&form, None).await;

    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn introspect_rejects_a_missing_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, _) = client_with_token(&app).await;

    let response = app
        .post_introspect(&[("token_type_hint", "access_token")], client.basic())
        .await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

/// RFC 6749 §3.1 (RFC 7662 §2.1 uses its encoding): one value per parameter, even when the
/// first is empty.
async fn introspect_rejects_a_repeated_parameter_whose_first_value_is_empty(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;

    let form = [("token", ""), ("token", token.as_str())];
    let response = app.post_introspect(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn introspect_describes_a_live_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    let resource_server = app.register_client(confidential_client()).await;

    let response = app
        .post_introspect(&[("token", &token)], resource_server.basic())
        .await;

    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    let body: Value = response.json().await.unwrap();
    let now = app.now();
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["sub"], client.id.as_str());
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(body["aud"], "https://api.example.com");
    assert_eq!(body["iss"], app.issuer.as_str());
    assert_eq!(
        (body["iat"].as_i64(), body["exp"].as_i64()),
        (Some(now), Some(now + 900))
    );
    assert_eq!(body["jti"], segment(&token, 1)["jti"]);
}

async fn introspect_answers_inactive_for_garbage(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, _) = client_with_token(&app).await;

    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30."] {
        assert_eq!(
            app.introspect(garbage, &client).await,
            inactive(),
            "{garbage}"
        );
    }
}

async fn introspect_answers_inactive_for_an_unsigned_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    let mut header = segment(&token, 0);
    header["alg"] = json!("none");

    let unsigned = forge(&header, &segment(&token, 1), |_| Vec::new());

    assert_eq!(app.introspect(&unsigned, &client).await, inactive());
}

async fn introspect_answers_inactive_for_an_hs256_token_keyed_with_our_public_key(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    let ours = segment(&token, 0);
    let jwks = app.jwks().await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == ours["kid"])
        .unwrap()
        .clone();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = ours["kid"].as_str().map(str::to_owned);
    let x_bytes = unb64(jwk["x"].as_str().unwrap());
    let jwk_json = jwk.to_string().into_bytes();

    for secret in [x_bytes, jwk_json] {
        let forged = encode(
            &header,
            &segment(&token, 1),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_eq!(app.introspect(&forged, &client).await, inactive());
    }
}

async fn introspect_answers_inactive_for_another_key_claiming_our_kid(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    let impostor = es256_key();

    let forged = forge(&segment(&token, 0), &segment(&token, 1), |input| {
        impostor.sign(input).unwrap()
    });

    assert_eq!(app.introspect(&forged, &client).await, inactive());
}

async fn introspect_answers_inactive_for_a_tampered_payload(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    let mut claims = segment(&token, 1);
    claims["scope"] = json!("orders:read orders:write");

    let tampered = with_payload(&token, &claims);

    assert_eq!(app.introspect(&tampered, &client).await, inactive());
}

async fn introspect_answers_inactive_for_a_token_that_is_not_an_access_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    let our_key = app.state.keys.active_key(SigningAlgorithm::Es256).unwrap();
    let mut header = segment(&token, 0);
    header["typ"] = json!("JWT");

    // Signed with our own active key: only the type is wrong.
    let id_token_like = forge(&header, &segment(&token, 1), |input| {
        our_key.sign(input).unwrap()
    });

    assert_eq!(app.introspect(&id_token_like, &client).await, inactive());
}

async fn introspect_answers_inactive_for_a_token_of_another_issuer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(confidential_client()).await;
    // Same database and keys, but its own port and so its own issuer.
    let other = app.spawn_sibling(|_| {}).await;
    let foreign = other.token_for(&client).await;
    assert_ne!(other.issuer, app.issuer);
    assert_eq!(
        segment(&foreign, 0)["kid"],
        segment(&app.token_for(&client).await, 0)["kid"]
    );
    assert_eq!(other.introspect(&foreign, &client).await["active"], true);

    let answer = app.introspect(&foreign, &client).await;

    assert_eq!(answer, inactive());
}

async fn introspect_answers_inactive_for_an_expired_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;

    app.clock.advance(Duration::from_secs(901));
    let answer = app.introspect(&token, &client).await;

    assert_eq!(answer, inactive());
}

crate::on_every_backend!(
    introspect_rejects_a_repeated_parameter_whose_first_value_is_empty,
    introspect_fails_closed_while_the_revocation_list_is_unreachable,
    introspect_fails_closed_as_a_server_error_when_the_revocation_list_is_broken,
    introspect_rejects_an_unauthenticated_caller,
    introspect_rejects_a_public_client,
    introspect_rejects_a_missing_token,
    introspect_describes_a_live_token,
    introspect_answers_inactive_for_garbage,
    introspect_answers_inactive_for_an_unsigned_token,
    introspect_answers_inactive_for_an_hs256_token_keyed_with_our_public_key,
    introspect_answers_inactive_for_another_key_claiming_our_kid,
    introspect_answers_inactive_for_a_tampered_payload,
    introspect_answers_inactive_for_a_token_that_is_not_an_access_token,
    introspect_answers_inactive_for_a_token_of_another_issuer,
    introspect_answers_inactive_for_an_expired_token,
);

/// Breaks the change feed of `app`'s own database: a defect (a table gone), not an outage.
async fn break_the_change_feed(app: &TestApp) {
    use gatehouse::config::DatabaseUrl;
    match &app.settings.database.url {
        DatabaseUrl::Sqlite(url) => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query("DROP TABLE changes")
                .execute(&pool)
                .await
                .unwrap();
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query("DROP TABLE changes")
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

/// Whether the token was revoked since cannot be known once the in-process copy is older than
/// `cache.max_staleness_ms` (5 s) and the feed cannot be read; the client is still cached
/// (`cache.client_ttl_secs`, 60 s), so only the revocation list is missing.
const PAST_MAX_STALENESS: std::time::Duration = std::time::Duration::from_secs(10);

async fn introspect_fails_closed_while_the_revocation_list_is_unreachable(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    assert_eq!(app.introspect(&token, &client).await["active"], true);

    app.state.db.close().await;
    app.clock.advance(PAST_MAX_STALENESS);
    let response = app
        .post_introspect(&[("token", &token)], client.basic())
        .await;

    assert_eq!(response.headers()["retry-after"], "5");
    assert_oauth_error(response, 503, "temporarily_unavailable").await;
}

/// A feed that cannot be read because of a defect fails closed too, as the 500 it is: retrying
/// will not help, and an operator must look.
async fn introspect_fails_closed_as_a_server_error_when_the_revocation_list_is_broken(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (client, token) = client_with_token(&app).await;
    assert_eq!(app.introspect(&token, &client).await["active"], true);

    break_the_change_feed(&app).await;
    app.clock.advance(PAST_MAX_STALENESS);
    let response = app
        .post_introspect(&[("token", &token)], client.basic())
        .await;

    assert!(!response.headers().contains_key("retry-after"));
    assert_oauth_error(response, 500, "server_error").await;
}
