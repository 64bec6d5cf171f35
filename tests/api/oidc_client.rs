//! Gatehouse as one OpenID Connect client library meets it: the `openidconnect` crate's
//! relying party discovers the provider (OIDC Discovery §4), runs the authorization-code flow
//! with PKCE and a nonce, verifies the ID token with its own verifier (signature against the
//! discovered JWKS, `iss`, `aud`, `exp`, nonce, `at_hash`) and refreshes (OIDC Core §12). A
//! person who signs in with a password and an authenticator code is told apart by `amr` and
//! `acr`, at the code exchange and at the refresh alike.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthenticationContextClass, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse as _,
};

use crate::flow::{Browser, PASSWORD, REDIRECT_URI, back_channel, redirect_params, web_client};
use crate::helpers::{Backend, spawn_app};
use crate::second_factor::{code_at, enrolled};

const MFA: &str = "urn:gatehouse:acr:mfa";

/// The library's `acr` check (OIDC Core §3.1.3.7 step 11): this relying party needs a second
/// factor.
fn needs_mfa(acr: Option<&AuthenticationContextClass>) -> Result<(), String> {
    match acr {
        Some(acr) if acr.as_str() == MFA => Ok(()),
        other => Err(format!("acr {other:?} is not {MFA}")),
    }
}

/// The claims of `id_token` once `verifier` has accepted them, with its `at_hash` checked
/// against `access_token` (OIDC Core §3.1.3.8).
fn verified<'t>(
    verifier: &CoreIdTokenVerifier<'_>,
    id_token: &'t CoreIdToken,
    access_token: &AccessToken,
    nonce: Option<&Nonce>,
) -> &'t CoreIdTokenClaims {
    let claims = match nonce {
        Some(nonce) => id_token.claims(verifier, nonce),
        // OIDC Core §12.2: a refreshed ID token carries no nonce
        None => id_token.claims(verifier, |nonce: Option<&Nonce>| match nonce {
            None => Ok(()),
            Some(_) => Err("a nonce in a refreshed ID token".to_owned()),
        }),
    }
    .expect("the library verifies the ID token");
    let at_hash = AccessTokenHash::from_token(
        access_token,
        id_token.signing_alg().unwrap(),
        id_token.signing_key(verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    claims
}

fn amr(claims: &CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .expect("an amr claim")
        .iter()
        .map(|method| method.as_str().to_owned())
        .collect()
}

async fn the_openidconnect_crate_signs_a_person_in_and_refreshes_with_amr_and_acr(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = web_client();
    client.first_party = true;
    let client = app.register_client(client).await;
    let (ann, secret, _) = enrolled(&app, "ann").await;
    let http = back_channel();
    let issuer = IssuerUrl::new(app.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("the library reads the discovery document and the JWKS");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let login = browser.get(url.as_str()).await.text().await.unwrap();
    let response = browser
        .submit(&app, &login, &[("username", "ann"), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;
    let signed_in_at = app.now();
    let params = redirect_params(&response);
    assert_eq!(params.get("state"), Some(state.secret()), "{params:?}");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .expect("the library exchanges the code");
    let verifier = rp
        .id_token_verifier()
        .set_auth_context_verifier_fn(needs_mfa);
    let id_token = tokens.id_token().expect("an ID token");
    let claims = verified(&verifier, id_token, tokens.access_token(), Some(&nonce));

    assert_eq!(claims.subject().as_str(), ann.id.to_string());
    assert_eq!(amr(claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims.auth_context_ref().map(|acr| acr.as_str()), Some(MFA));
    let auth_time = claims.auth_time().expect("auth_time").timestamp();
    assert_eq!(auth_time, signed_in_at);

    let refresh_token = tokens.refresh_token().expect("a refresh token");
    let refreshed = rp
        .exchange_refresh_token(refresh_token)
        .unwrap()
        .request_async(&http)
        .await
        .expect("the library refreshes");
    let id_token = refreshed.id_token().expect("an ID token at the refresh");
    let again = verified(&verifier, id_token, refreshed.access_token(), None);

    let rotated = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(rotated.secret(), refresh_token.secret());
    assert_eq!(again.subject(), claims.subject());
    assert_eq!(amr(again), ["pwd", "otp", "mfa"]);
    assert_eq!(again.auth_context_ref().map(|acr| acr.as_str()), Some(MFA));
    assert_eq!(again.auth_time().map(|t| t.timestamp()), Some(auth_time));
}

crate::on_every_backend!(the_openidconnect_crate_signs_a_person_in_and_refreshes_with_amr_and_acr);
