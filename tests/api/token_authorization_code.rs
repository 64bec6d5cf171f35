//! RFC 6749 §4.1 with PKCE (RFC 7636) end to end: the `oauth2` crate as the relying party, the
//! login and consent pages driven over HTTP, and the ID token checked against the JWKS.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use oauth2::TokenResponse as _;
use serde_json::Value;

use crate::flow::{Browser, back_channel, code_for, relying_party, web_client};
use crate::helpers::{Backend, TestApp, spawn_app};

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

crate::on_every_backend!(the_full_flow_yields_tokens_and_an_id_token_verifiable_with_the_jwks);
