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

crate::on_every_backend!(
    id_tokens_use_rs256_unless_the_client_registered_another_algorithm,
    a_client_alg_the_key_ring_no_longer_signs_with_is_refused_before_anything_is_spent,
);

/// A client registered for an algorithm that `keys.algorithms` no longer holds (it was changed
/// after the registration): the token endpoint says so as `unauthorized_client` before the code or refresh
/// token is spent, so once an operator fixes the client the same request succeeds; and the
/// client can still be changed, keeping its algorithm, until then.
async fn a_client_alg_the_key_ring_no_longer_signs_with_is_refused_before_anything_is_spent(
    backend: Backend,
) {
    use crate::flow::{REDIRECT_URI, refresh};
    use gatehouse::admin::clients::patch_client;
    use gatehouse::clock::Clock as _;

    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    app.create_user("ann", crate::flow::PASSWORD).await;
    let client = app.register_client(web_client()).await;
    // `signing` as the use cases take it: what `keys.algorithms` holds, or held at registration.
    let patch_with = |signing: Vec<SigningAlgorithm>, changes: Value| {
        let (db, id, now) = (app.state.db.clone(), client.id.clone(), app.clock.now());
        async move { patch_client(db.as_ref(), &id, &changes, &signing, None, "test", now).await }
    };
    let configured = app.settings.keys.algorithms.clone();
    let patch = |changes| patch_with(configured.clone(), changes);
    // Registered for EdDSA while keys.algorithms held it; it no longer does.
    let register_for_eddsa = || {
        patch_with(
            SigningAlgorithm::ALL.to_vec(),
            serde_json::json!({"id_token_signed_response_alg": "EdDSA"}),
        )
    };
    register_for_eddsa().await.unwrap();
    let rp = relying_party(&app, &client);
    let scopes = ["openid", "offline_access"];
    let (code, verifier) = code_for(&app, &Browser::new(), &rp, &scopes, "ann").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.secret().as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.secret().as_str()),
    ];
    let exchange = || app.post_token(&form, client.basic());

    let refused = exchange().await;
    let body = crate::helpers::assert_oauth_error(refused, 400, "unauthorized_client").await;
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("EdDSA"), "{description}");
    assert!(description.contains("keys.algorithms"), "{description}");
    // Kept while other fields change; a new algorithm must be one the ring signs with.
    patch(serde_json::json!({"name": "Renamed"})).await.unwrap();
    assert!(
        patch(serde_json::json!({"id_token_signed_response_alg": "EdDSA", "name": "Again"}))
            .await
            .is_ok(),
        "the algorithm it has is kept"
    );
    patch(serde_json::json!({"id_token_signed_response_alg": "ES256"}))
        .await
        .unwrap();
    app.read_changes().await;
    let tokens: Value = exchange().await.json().await.unwrap();
    let id_token = tokens["id_token"]
        .as_str()
        .expect("the same code now works");
    assert_eq!(decode_header(id_token).unwrap().alg, Algorithm::ES256);

    // The same at a refresh: the refresh token is not rotated by the refusal.
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    register_for_eddsa().await.unwrap();
    app.read_changes().await;
    let refused = refresh(&app, &client, &refresh_token, &[]).await;
    crate::helpers::assert_oauth_error(refused, 400, "unauthorized_client").await;
    patch(serde_json::json!({"id_token_signed_response_alg": "RS256"}))
        .await
        .unwrap();
    app.read_changes().await;
    assert_eq!(
        refresh(&app, &client, &refresh_token, &[]).await.status(),
        200
    );
}
