//! `gatehouse::testing` used the way a downstream crate's tests use it: only its public API,
//! plus `reqwest` and `jsonwebtoken` to check tokens as a resource server would.
#![cfg(feature = "testing")]

use std::time::Duration;

use gatehouse::testing::{MintRequest, TestIssuer, TestIssuerError, service_client, web_client};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The claims of `token` once its signature checks out against the issuer's JWKS.
async fn verify(issuer: &TestIssuer, token: &str, audience: &str) -> Value {
    let jwks: JwkSet = reqwest::get(issuer.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("a published key");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer.issuer()]);
    validation.set_audience(&[audience]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the token verifies against the JWKS")
        .claims
}

#[tokio::test]
async fn a_service_token_verifies_against_the_jwks() {
    let issuer = TestIssuer::start().await.unwrap();
    let client = issuer
        .add_client(service_client(
            "billing",
            &["invoices:read", "invoices:write"],
        ))
        .await
        .unwrap();

    let token = issuer
        .client_credentials_token(&client, &["invoices:read"])
        .await
        .unwrap();

    let claims = verify(&issuer, &token, &client.id).await;
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(claims["scope"], "invoices:read");
    assert_eq!(
        issuer.introspect(&client, &token).await.unwrap()["active"],
        true
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let issuer = TestIssuer::start().await.unwrap();
    let mut client = issuer
        .add_client(service_client("billing", &[]))
        .await
        .unwrap();
    client.secret = Some("not the secret".into());

    let error = issuer
        .client_credentials_token(&client, &[])
        .await
        .unwrap_err();

    assert!(
        matches!(error, TestIssuerError::Refused { status: 401, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_person_signs_in_headlessly_and_gets_every_token() {
    let issuer = TestIssuer::start().await.unwrap();
    let client = issuer
        .add_client(web_client("web", &["openid", "email", "offline_access"]))
        .await
        .unwrap();
    let ann = issuer.add_user("ann", PASSWORD).await.unwrap();

    let tokens = issuer
        .authorization_code_flow(
            &client,
            "ann",
            PASSWORD,
            &["openid", "email", "offline_access"],
        )
        .await
        .unwrap();

    let id_token = tokens.id_token.as_deref().expect("an ID token");
    let id_claims = verify(&issuer, id_token, &client.id).await;
    assert_eq!(id_claims["sub"], ann.id.as_str());
    assert_eq!(id_claims["email"], "ann@example.com");
    let access = verify(&issuer, &tokens.access_token, &client.id).await;
    assert_eq!(access["sub"], ann.id.as_str());
    let refresh_token = tokens.refresh_token.as_deref().expect("a refresh token");
    let refreshed = issuer.refresh(&client, refresh_token).await.unwrap();
    assert_ne!(refreshed.access_token, tokens.access_token);
    // Presented again after the grace period (tokens.refresh_token_grace_secs), it is refused.
    issuer.clock().advance(Duration::from_secs(31));
    assert!(issuer.refresh(&client, refresh_token).await.is_err());
}

#[tokio::test]
async fn a_wrong_password_stops_the_flow_with_the_reason() {
    let issuer = TestIssuer::start().await.unwrap();
    let client = issuer
        .add_client(web_client("web", &["openid"]))
        .await
        .unwrap();
    issuer.add_user("ann", PASSWORD).await.unwrap();

    let error = issuer
        .authorization_code_flow(&client, "ann", "not the password", &["openid"])
        .await
        .unwrap_err();

    assert!(matches!(error, TestIssuerError::Flow(_)), "{error}");
    assert!(
        error.to_string().contains("ann was not signed in"),
        "{error}"
    );
}

#[tokio::test]
async fn a_minted_token_carries_its_claims_and_introspects_active() {
    let issuer = TestIssuer::start().await.unwrap();
    let caller = issuer
        .add_client(service_client("orders", &[]))
        .await
        .unwrap();

    let token = issuer
        .mint(MintRequest {
            aud: vec!["orders-api".into()],
            scope: "orders:read orders:write".into(),
            claims: json!({"tenant": "acme", "roles": ["admin"]})
                .as_object()
                .cloned()
                .unwrap(),
            expires_in: Some(120),
            ..MintRequest::for_subject("alice")
        })
        .unwrap();

    let claims = verify(&issuer, &token, "orders-api").await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    let seen = issuer.introspect(&caller, &token).await.unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["scope"], "orders:read orders:write");
}

#[tokio::test]
async fn a_claim_gatehouse_sets_cannot_be_minted() {
    let issuer = TestIssuer::start().await.unwrap();

    let result = issuer.mint(MintRequest {
        claims: json!({"iss": "https://elsewhere"})
            .as_object()
            .cloned()
            .unwrap(),
        ..MintRequest::for_subject("alice")
    });

    assert!(matches!(result, Err(TestIssuerError::Mint(_))));
}

#[tokio::test]
async fn moving_the_clock_expires_tokens() {
    let issuer = TestIssuer::start_with(|s| s.tokens.access_token_ttl_secs = 60)
        .await
        .unwrap();
    let client = issuer
        .add_client(service_client("billing", &[]))
        .await
        .unwrap();
    let token = issuer.client_credentials_token(&client, &[]).await.unwrap();
    assert_eq!(
        issuer.introspect(&client, &token).await.unwrap()["active"],
        true
    );

    issuer.clock().advance(Duration::from_secs(61));

    assert_eq!(
        issuer.introspect(&client, &token).await.unwrap()["active"],
        false
    );
}

#[tokio::test]
async fn two_issuers_share_nothing() {
    let (one, two) = tokio::join!(TestIssuer::start(), TestIssuer::start());
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_ne!(one.url(), two.url());
    let client = one
        .add_client(service_client("billing", &[]))
        .await
        .unwrap();
    let token = one.client_credentials_token(&client, &[]).await.unwrap();

    let error = two
        .client_credentials_token(&client, &[])
        .await
        .unwrap_err();

    assert!(matches!(
        error,
        TestIssuerError::Refused { status: 401, .. }
    ));
    let stranger = two.add_client(service_client("other", &[])).await.unwrap();
    assert_eq!(
        two.introspect(&stranger, &token).await.unwrap()["active"],
        false
    );
}

#[tokio::test]
async fn stopping_closes_the_port() {
    let issuer = TestIssuer::start().await.unwrap();
    let readyz = format!("{}/readyz", issuer.url());
    assert_eq!(reqwest::get(&readyz).await.unwrap().status(), 200);

    issuer.stop().await;

    assert!(
        reqwest::get(&readyz).await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn the_issuer_can_be_a_public_url_other_than_the_address() {
    let issuer = TestIssuer::start_with(|s| {
        s.server.public_url = Some("http://gatehouse:8080".parse().unwrap());
    })
    .await
    .unwrap();
    let client = issuer
        .add_client(service_client("billing", &[]))
        .await
        .unwrap();

    let token = issuer.client_credentials_token(&client, &[]).await.unwrap();

    assert_eq!(issuer.issuer(), "http://gatehouse:8080");
    assert_eq!(
        verify(&issuer, &token, &client.id).await["iss"],
        "http://gatehouse:8080"
    );
}
