//! RFC 6749 §4.1 with PKCE (RFC 7636) end to end: the `oauth2` crate as the relying party, the
//! login and consent pages driven over HTTP, and the ID token checked against the JWKS.

use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use oauth2::TokenResponse as _;
use serde_json::Value;

use crate::flow::{
    Browser, PASSWORD, REDIRECT_URI, back_channel, code_for, relying_party, web_client,
};
use crate::helpers::{
    Backend, RegisteredClient, TestApp, assert_no_store, assert_oauth_error, spawn_app,
};
use crate::pages::{authorized_code, code_exchange_form};

async fn id_token_claims(app: &TestApp, id_token: &str, audience: &str) -> Value {
    let header = decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256, "OIDC's default algorithm");
    let jwks: JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("published kid");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&[audience]);
    decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the ID token verifies against the JWKS")
        .claims
}

async fn the_full_flow_yields_tokens_and_an_id_token_verifiable_with_the_jwks(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let user = app.create_user("ann", crate::flow::PASSWORD).await;
    let rp = relying_party(&app, &client);
    let browser = Browser::new();

    let scopes = ["openid", "profile", "email", "offline_access"];
    let (code, verifier) = code_for(&app, &browser, &rp, &scopes, "ann").await;
    let tokens = rp
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges for tokens");

    assert!(
        tokens.refresh_token().is_some(),
        "offline_access was granted"
    );
    let id_token = tokens.extra_fields().id_token.as_deref();
    let id_token = id_token.expect("an ID token for openid");
    let claims = id_token_claims(&app, id_token, &client.id).await;
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["azp"], client.id.as_str());
    assert_eq!(claims["auth_time"], app.now());
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["preferred_username"], "ann");
    assert_eq!(
        claims["at_hash"],
        gatehouse::oauth::id_token::at_hash(
            gatehouse::crypto::SigningAlgorithm::Rs256,
            tokens.access_token().secret()
        )
    );
    let introspected = app
        .introspect(tokens.access_token().secret(), &client)
        .await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["sub"], user.id.to_string());
}

/// An app with the web client and ann, and a code ann authorized for `scope`.
async fn a_fresh_code(
    backend: Backend,
    scope: &str,
) -> Option<(TestApp, RegisteredClient, String)> {
    let app = spawn_app(backend).await?;
    let client = app.register_client(web_client()).await;
    app.create_user("ann", PASSWORD).await;
    let code = authorized_code(&app, &Browser::new(), &client.id, &[("scope", Some(scope))]).await;
    Some((app, client, code))
}

/// `form` with `name` set to `value`, or removed.
fn changed<'a>(
    mut form: Vec<(&'static str, &'a str)>,
    name: &str,
    value: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let at = form.iter().position(|(n, _)| *n == name).unwrap();
    match value {
        Some(value) => form[at].1 = value,
        None => {
            form.remove(at);
        }
    }
    form
}

async fn token_answers_a_code_exchange_with_no_store(backend: Backend) {
    let Some((app, client, code)) = a_fresh_code(backend, "openid offline_access").await else {
        return;
    };

    let response = app
        .post_token(&code_exchange_form(&code), client.basic())
        .await;

    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let mut scope: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["offline_access", "openid"]);
    for token in ["access_token", "refresh_token", "id_token"] {
        assert!(body[token].is_string(), "{token}: {body}");
    }
}

async fn token_rejects_a_replayed_code_and_revokes_what_it_issued(backend: Backend) {
    let Some((app, client, code)) = a_fresh_code(backend, "openid offline_access").await else {
        return;
    };
    let first = app
        .post_token(&code_exchange_form(&code), client.basic())
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let access_token = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_eq!(app.introspect(access_token, &client).await["active"], true);

    let replay = app
        .post_token(&code_exchange_form(&code), client.basic())
        .await;

    assert_oauth_error(replay, 400, "invalid_grant").await;
    let introspected = app.introspect(access_token, &client).await;
    assert_eq!(introspected["active"], false, "{introspected}");
    let refresh = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            client.basic(),
        )
        .await;
    assert_oauth_error(refresh, 400, "invalid_grant").await;
}

async fn token_rejects_a_wrong_code_verifier(backend: Backend) {
    let Some((app, client, code)) = a_fresh_code(backend, "openid").await else {
        return;
    };
    let other_verifier = "a-different-verifier-of-at-least-forty-three-characters";
    let form = changed(
        code_exchange_form(&code),
        "code_verifier",
        Some(other_verifier),
    );

    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn token_rejects_a_missing_code_verifier(backend: Backend) {
    let Some((app, client, code)) = a_fresh_code(backend, "openid").await else {
        return;
    };
    let form = changed(code_exchange_form(&code), "code_verifier", None);

    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn token_rejects_a_code_presented_by_another_client(backend: Backend) {
    let Some((app, _client, code)) = a_fresh_code(backend, "openid").await else {
        return;
    };
    let other = app
        .register_client(NewClient {
            name: "Other App".into(),
            ..web_client()
        })
        .await;

    let response = app
        .post_token(&code_exchange_form(&code), other.basic())
        .await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn token_rejects_a_code_with_another_redirect_uri(backend: Backend) {
    let Some((app, client, code)) = a_fresh_code(backend, "openid").await else {
        return;
    };
    let other_uri = "https://app.example.com/callback/other";
    let form = changed(code_exchange_form(&code), "redirect_uri", Some(other_uri));

    let response = app.post_token(&form, client.basic()).await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn token_rejects_a_code_older_than_sixty_seconds(backend: Backend) {
    let Some((app, client, code)) = a_fresh_code(backend, "openid").await else {
        return;
    };
    app.clock.advance(Duration::from_secs(61));

    let response = app
        .post_token(&code_exchange_form(&code), client.basic())
        .await;

    assert_oauth_error(response, 400, "invalid_grant").await;
}

async fn a_public_client_exchanges_a_code_with_pkce_and_no_secret(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let public = NewClient {
        name: "Single-page App".into(),
        public: true,
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "offline_access".into()],
        redirect_uris: vec![REDIRECT_URI.into()],
        ..NewClient::default()
    };
    let client = app.register_client(public).await;
    assert!(client.secret.is_none());
    app.create_user("ann", PASSWORD).await;
    let scope = [("scope", Some("openid offline_access"))];
    let code = authorized_code(&app, &Browser::new(), &client.id, &scope).await;
    let mut form = code_exchange_form(&code);
    form.push(("client_id", client.id.as_str()));

    let response = app.post_token(&form, None).await;

    assert_eq!(response.status(), 200);
    assert_no_store(&response);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    assert!(body["id_token"].is_string(), "{body}");
    let refresh_token = body["refresh_token"].as_str().expect("offline_access");
    let refreshed = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client.id.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(refreshed.status(), 200, "the public client refreshes too");
}

crate::on_every_backend!(
    the_full_flow_yields_tokens_and_an_id_token_verifiable_with_the_jwks,
    token_answers_a_code_exchange_with_no_store,
    token_rejects_a_replayed_code_and_revokes_what_it_issued,
    token_rejects_a_wrong_code_verifier,
    token_rejects_a_missing_code_verifier,
    token_rejects_a_code_presented_by_another_client,
    token_rejects_a_code_with_another_redirect_uri,
    token_rejects_a_code_older_than_sixty_seconds,
    a_public_client_exchanges_a_code_with_pkce_and_no_secret,
);
