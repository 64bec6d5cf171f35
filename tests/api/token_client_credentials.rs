//! RFC 6749 §4.4 end to end, with the `oauth2` crate as the client, and the token it gets checked
//! as an RFC 9068 JWT access token against the published JWKS.

use std::time::Duration;

use gatehouse::admin::clients::NewClient;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use oauth2::basic::{BasicClient, BasicTokenType};
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

use crate::helpers::{Backend, RegisteredClient, TestApp, confidential_client, spawn_app};

fn oauth2_client(app: &TestApp, registered: &RegisteredClient, auth: AuthType) -> OAuth2Client {
    BasicClient::new(ClientId::new(registered.id.clone()))
        .set_client_secret(ClientSecret::new(registered.secret.clone().unwrap()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.address)).unwrap())
        .set_auth_type(auth)
}

type OAuth2Client = BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The token is a live ES256 `at+jwt` of this issuer, for `client`, verifiable with the JWKS.
async fn assert_token_is_ours(app: &TestApp, client: &RegisteredClient, token: &str, scope: &str) {
    let resource_server = app.register_client(confidential_client()).await;
    let introspected = app.introspect(token, &resource_server).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["client_id"], client.id.as_str());
    assert_eq!(introspected["sub"], client.id.as_str());
    assert_eq!(introspected["scope"], scope);
    assert_eq!(introspected["aud"], "https://api.example.com");
    assert_eq!(introspected["iss"], app.issuer.as_str());
    assert_eq!(introspected["token_type"], "Bearer");

    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid");
    let jwks: JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let jwk = jwks.find(&kid).expect("the kid is published in the JWKS");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&["https://api.example.com"]);
    let claims = decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the signature verifies against the JWKS")
        .claims;
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["iat"], app.now());
}

async fn the_oauth2_crate_gets_a_token_with_client_secret_basic(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let registered = app.register_client(confidential_client()).await;
    let client = oauth2_client(&app, &registered, AuthType::BasicAuth);

    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("orders:read".into()))
        .request_async(&app.client)
        .await
        .expect("the token request succeeds");

    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert_eq!(token.expires_in(), Some(Duration::from_secs(900)));
    assert!(token.refresh_token().is_none());
    assert_eq!(
        token.scopes(),
        Some(&vec![Scope::new("orders:read".into())])
    );
    assert_token_is_ours(
        &app,
        &registered,
        token.access_token().secret(),
        "orders:read",
    )
    .await;
}

async fn the_oauth2_crate_gets_a_token_with_client_secret_post(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let registered = app
        .register_client(NewClient {
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..confidential_client()
        })
        .await;
    let client = oauth2_client(&app, &registered, AuthType::RequestBody);

    let token = client
        .exchange_client_credentials()
        .request_async(&app.client)
        .await
        .expect("the token request succeeds");

    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert!(token.refresh_token().is_none());
    let all = "orders:read orders:write";
    assert_token_is_ours(&app, &registered, token.access_token().secret(), all).await;
}

async fn the_oauth2_crate_sees_invalid_client_for_a_wrong_secret(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut registered = app.register_client(confidential_client()).await;
    registered.secret = Some("not-the-secret".into());
    let client = oauth2_client(&app, &registered, AuthType::BasicAuth);

    let error = client
        .exchange_client_credentials()
        .request_async(&app.client)
        .await
        .unwrap_err();

    match error {
        oauth2::RequestTokenError::ServerResponse(response) => assert_eq!(
            *response.error(),
            oauth2::basic::BasicErrorResponseType::InvalidClient
        ),
        other => panic!("expected an error response, got {other:?}"),
    }
}

crate::on_every_backend!(
    the_oauth2_crate_gets_a_token_with_client_secret_basic,
    the_oauth2_crate_gets_a_token_with_client_secret_post,
    the_oauth2_crate_sees_invalid_client_for_a_wrong_secret,
);
