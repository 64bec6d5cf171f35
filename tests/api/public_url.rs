//! `server.public_url`: the URL clients reach the service at (a container name, a proxy). The
//! issuer and every endpoint URL derive from it; `server.issuer`, when set, wins.

use serde_json::Value;

use crate::helpers::{Backend, confidential_client, spawn_app_with};

const PUBLIC_URL: &str = "http://gatehouse:8080";

async fn the_issuer_and_endpoints_derive_from_the_public_url(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.public_url = Some(PUBLIC_URL.parse().unwrap());
    })
    .await
    else {
        return;
    };
    let client = app.register_client(confidential_client()).await;

    let metadata: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let token = app.token_for(&client).await;
    let described = app.introspect(&token, &client).await;

    assert_eq!(app.issuer, PUBLIC_URL);
    assert_eq!(metadata["issuer"], PUBLIC_URL);
    assert_eq!(
        metadata["token_endpoint"],
        "http://gatehouse:8080/oauth2/token"
    );
    assert_eq!(
        metadata["jwks_uri"],
        "http://gatehouse:8080/.well-known/jwks.json"
    );
    assert_eq!(
        described["active"], true,
        "tokens reached on any address stay valid"
    );
    assert_eq!(described["iss"], PUBLIC_URL);
}

async fn a_configured_issuer_wins_over_the_public_url(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.public_url = Some(PUBLIC_URL.parse().unwrap());
        s.server.issuer = Some("https://id.example.com".parse().unwrap());
    })
    .await
    else {
        return;
    };

    let metadata: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(metadata["issuer"], "https://id.example.com");
    assert_eq!(
        metadata["token_endpoint"],
        "https://id.example.com/oauth2/token"
    );
}

crate::on_every_backend!(
    the_issuer_and_endpoints_derive_from_the_public_url,
    a_configured_issuer_wins_over_the_public_url,
);
