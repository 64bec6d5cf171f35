//! ID tokens (OIDC Core §2): RS256 by default, or the algorithm a client registered.

use gatehouse::admin::clients::NewClient;
use gatehouse::crypto::SigningAlgorithm;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::flow::{Browser, back_channel, code_for, relying_party, web_client};
use crate::helpers::{Backend, TestApp, spawn_app_with};

/// Signs "ann" in for a client registered with `alg` and returns the ID token's header
/// algorithm and its claims, verified against the JWKS.
async fn id_token_for(app: &TestApp, alg: Option<&str>) -> (Algorithm, Value) {
    let client = app
        .register_client(NewClient {
            id_token_signed_response_alg: alg.map(str::to_owned),
            ..web_client()
        })
        .await;
    let rp = relying_party(app, &client);
    let (code, verifier) = code_for(app, &Browser::new(), &rp, &["openid"], "ann").await;
    let tokens = rp
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&back_channel())
        .await
        .unwrap();
    let id_token = tokens.extra_fields().id_token.clone().unwrap();
    let header = decode_header(&id_token).unwrap();
    let jwks: JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client.id.as_str()]);
    validation.set_issuer(&[app.issuer.as_str()]);
    let claims = decode::<Value>(&id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the ID token verifies against the JWKS")
        .claims;
    (header.alg, claims)
}

async fn id_tokens_use_rs256_unless_the_client_registered_another_algorithm(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.keys.algorithms.push(SigningAlgorithm::EdDsa);
    })
    .await
    else {
        return;
    };
    app.create_user("ann", crate::flow::PASSWORD).await;

    let (default, _) = id_token_for(&app, None).await;
    let (es256, claims) = id_token_for(&app, Some("ES256")).await;
    let (eddsa, _) = id_token_for(&app, Some("EdDSA")).await;

    assert_eq!(default, Algorithm::RS256);
    assert_eq!(es256, Algorithm::ES256);
    assert_eq!(eddsa, Algorithm::EdDSA);
    assert_eq!(claims["aud"], claims["azp"]);
    let metadata: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let algs = &metadata["id_token_signing_alg_values_supported"];
    assert_eq!(algs, &serde_json::json!(["RS256", "ES256", "EdDSA"]));
}

crate::on_every_backend!(id_tokens_use_rs256_unless_the_client_registered_another_algorithm);
