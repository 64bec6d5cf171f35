//! Second factors as people use them: a person with an authenticator app types a code after the
//! password (RFC 6238, ±1 step of skew, each code once, failures throttled), or a recovery code
//! instead (single use, the count left shown); a request with `acr_values` asking for more than
//! the session has steps it up with the second factor alone; ID tokens say how the person signed
//! in (`amr`, RFC 8176; `acr`, OIDC Core §2). Time is the injected clock.

use std::time::Duration;

use gatehouse::domain::User;
use gatehouse::signin::enrol;
use oauth2::TokenResponse as _;
use serde_json::Value;

use crate::flow::{
    Browser, PASSWORD, back_channel, redirect_params, relying_party, start, web_client,
};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app, spawn_app_with};
use crate::pages::jwt_claims;

const MFA: &str = "urn:gatehouse:acr:mfa";

pub use crate::common::totp::code_at;

/// `username` created with an authenticator set up and confirmed; its secret and recovery
/// codes. The clock then moves to the next step, so the confirming code is spent.
pub async fn enrolled(app: &TestApp, username: &str) -> (User, String, Vec<String>) {
    let user = app.create_user(username, PASSWORD).await;
    let (secret, codes) = enrol_existing(app, &user).await;
    (user, secret, codes)
}

async fn enrol_existing(app: &TestApp, user: &User) -> (String, Vec<String>) {
    let enrolment = enrol::start_totp(&app.state, user).await.unwrap();
    assert!(
        enrolment.uri.starts_with("otpauth://totp/"),
        "{}",
        enrolment.uri
    );
    assert!(enrolment.qr_svg.starts_with("<svg"));
    let code = code_at(&enrolment.secret, app.now());
    let recovery = enrol::confirm_totp(&app.state, user.id, &code)
        .await
        .expect("the first code confirms the authenticator");
    app.clock.advance(Duration::from_secs(30));
    let recovery = recovery.iter().map(|c| c.expose().to_owned()).collect();
    (enrolment.secret, recovery)
}

/// The page the sign-in shows after the password, in a new browser.
async fn after_password(
    app: &TestApp,
    client: &RegisteredClient,
    username: &str,
    extra: &[(&str, &str)],
) -> (Browser, reqwest::Response, crate::flow::Started) {
    let rp = relying_party(app, client);
    let started = start(&rp, &["openid", "profile"], extra);
    let browser = Browser::new();
    let page = browser.get(&started.url).await.text().await.unwrap();
    let response = browser
        .submit(
            app,
            &page,
            &[("username", username), ("password", PASSWORD)],
        )
        .await;
    (browser, response, started)
}

async fn second_factor_page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"name="code""#), "the code form: {page}");
    assert!(
        page.contains("<h1>Enter your verification code</h1>"),
        "{page}"
    );
    page
}

/// The claims of the ID token the code in `response` (a redirect to the client) exchanges for.
async fn id_token_claims(
    app: &TestApp,
    client: &RegisteredClient,
    started: crate::flow::Started,
    response: &reqwest::Response,
) -> Value {
    let params = redirect_params(response);
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {params:?}"));
    let tokens = relying_party(app, client)
        .exchange_code(oauth2::AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(started.verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges for tokens");
    assert!(!tokens.access_token().secret().is_empty());
    jwt_claims(
        tokens
            .extra_fields()
            .id_token
            .as_deref()
            .expect("an ID token"),
    )
}

async fn a_person_with_an_authenticator_types_a_code_after_the_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let (_, secret, _) = enrolled(&app, "ann").await;

    let (browser, response, started) = after_password(&app, &client, "ann", &[]).await;
    let page = second_factor_page(response).await;
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;

    let consent = response.text().await.unwrap();
    let response = browser
        .submit(&app, &consent, &[("decision", "allow")])
        .await;
    let claims = id_token_claims(&app, &client, started, &response).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], MFA);
    assert_eq!(claims["auth_time"], app.now());
}

async fn a_code_is_accepted_once_and_within_one_step_of_skew(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let (_, secret, _) = enrolled(&app, "ann").await;
    // two steps past the one the enrolment's confirmation used
    app.clock.advance(Duration::from_secs(60));
    let now = app.now();

    for (at, accepted) in [
        (now - 60, false),
        (now + 60, false),
        (now - 30, true),
        (now - 30, false),
        (now + 30, true),
        (now, false),
    ] {
        let (browser, response, _) = after_password(&app, &client, "ann", &[]).await;
        let page = second_factor_page(response).await;
        let response = browser
            .submit(&app, &page, &[("code", &code_at(&secret, at))])
            .await;
        let expected = if accepted { 200 } else { 400 };
        assert_eq!(
            response.status(),
            expected,
            "code of {} s from now",
            at - now
        );
        let page = response.text().await.unwrap();
        assert_eq!(!page.contains(r#"name="code""#), accepted, "{page}");
    }
}

async fn wrong_codes_are_throttled_like_passwords(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.sessions.max_failed_logins = 3;
        s.sessions.failed_login_window_secs = 600;
    })
    .await
    else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let (_, secret, _) = enrolled(&app, "ann").await;
    let (browser, response, _) = after_password(&app, &client, "ann", &[]).await;
    let mut page = second_factor_page(response).await;

    for guess in ["000000", "123456", "999999"] {
        let response = browser.submit(&app, &page, &[("code", guess)]).await;
        assert_eq!(response.status(), 400);
        page = response.text().await.unwrap();
        assert!(page.contains("That code is not valid"), "{page}");
    }
    let blocked = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;

    assert_eq!(blocked.status(), 429);
    assert_eq!(blocked.headers()["retry-after"], "600");
}

async fn a_recovery_code_signs_in_once_and_says_how_many_are_left(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = web_client();
    client.first_party = true;
    let client = app.register_client(client).await;
    let (_, _, recovery) = enrolled(&app, "ann").await;
    assert_eq!(recovery.len(), 10);

    let (browser, response, started) = after_password(&app, &client, "ann", &[]).await;
    let page = second_factor_page(response).await;
    let typed = recovery[3].to_lowercase();
    let response = browser.submit(&app, &page, &[("code", &typed)]).await;

    assert_eq!(response.status(), 200);
    let notice = response.text().await.unwrap();
    assert!(
        notice.contains("You have 9 recovery codes left"),
        "{notice}"
    );
    let location = notice
        .split(r#"<a href=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let location = location
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/");
    assert!(
        location.starts_with(crate::flow::REDIRECT_URI),
        "{location}"
    );
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = relying_party(&app, &client)
        .exchange_code(oauth2::AuthorizationCode::new(code))
        .set_pkce_verifier(started.verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges for tokens");
    let claims = jwt_claims(tokens.extra_fields().id_token.as_deref().unwrap());
    assert_eq!(claims["acr"], MFA);

    let (browser, response, _) = after_password(&app, &client, "ann", &[]).await;
    let page = second_factor_page(response).await;
    let again = browser.submit(&app, &page, &[("code", &recovery[3])]).await;
    assert_eq!(again.status(), 400, "a recovery code works once");
}

/// When consent follows the sign-in, the consent page itself says how many codes are left (the
/// page in place of the client's redirect comes only when there is no consent to give).
async fn a_recovery_code_before_consent_says_on_the_consent_page_how_many_are_left(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = app.register_client(web_client()).await;
    let (_, _, recovery) = enrolled(&app, "ann").await;

    let (browser, response, _) = after_password(&app, &client, "ann", &[]).await;
    let page = second_factor_page(response).await;
    let response = browser.submit(&app, &page, &[("code", &recovery[0])]).await;

    assert_eq!(response.status(), 200);
    let consent = response.text().await.unwrap();
    assert!(
        consent.contains(r#"name="decision""#),
        "the consent page: {consent}"
    );
    assert!(
        consent.contains("You have 9 recovery codes left"),
        "{consent}"
    );
    let allowed = browser
        .submit(&app, &consent, &[("decision", "allow")])
        .await;
    assert!(redirect_params(&allowed).contains_key("code"));

    // An authenticator set up during a sign-in before consent: its codes on the consent page.
    app.create_user("bea", PASSWORD).await;
    let (browser, response, _) = after_password(&app, &client, "bea", &[("acr_values", MFA)]).await;
    let page = response.text().await.unwrap();
    let secret = enrolment_secret(&page);
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;
    assert_eq!(response.status(), 200);
    let consent = response.text().await.unwrap();
    assert!(
        consent.contains(r#"name="decision""#),
        "the consent page: {consent}"
    );
    assert_eq!(consent.matches("<li><code>").count(), 10, "{consent}");
}

async fn a_password_session_is_stepped_up_by_acr_values_without_signing_in_again(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = web_client();
    client.first_party = true;
    let client = app.register_client(client).await;
    let user = app.create_user("ann", PASSWORD).await;
    let (browser, response, started) = after_password(&app, &client, "ann", &[]).await;
    let claims = id_token_claims(&app, &client, started, &response).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:gatehouse:acr:password");
    let (secret, _) = enrol_existing(&app, &user).await;

    let rp = relying_party(&app, &client);
    let started = start(&rp, &["openid"], &[("acr_values", MFA)]);
    let response = browser.get(&started.url).await;
    let page = second_factor_page(response).await;
    assert!(!page.contains(r#"name="password""#), "no second sign-in");
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;

    let claims = id_token_claims(&app, &client, started, &response).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], MFA);
    assert_eq!(claims["auth_time"], app.now());
    let started = start(&rp, &["openid"], &[("acr_values", MFA)]);
    let response = browser.get(&started.url).await;
    assert_eq!(
        response.status(),
        303,
        "the stepped-up session needs nothing more"
    );
}

/// OIDC Core §12.2: an ID token issued at a refresh stands for the original authentication:
/// the same `auth_time`, and the `amr` and `acr` of that sign-in, kept across every rotation.
async fn a_refreshed_id_token_says_how_the_person_originally_signed_in(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = web_client();
    client.first_party = true;
    let client = app.register_client(client).await;
    let (_, secret, _) = enrolled(&app, "ann").await;
    let rp = relying_party(&app, &client);
    let started = start(&rp, &["openid", "offline_access"], &[]);
    let browser = Browser::new();
    let login = browser.get(&started.url).await.text().await.unwrap();
    let response = browser
        .submit(&app, &login, &[("username", "ann"), ("password", PASSWORD)])
        .await;
    let page = second_factor_page(response).await;
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;
    let signed_in_at = app.now();
    let code = redirect_params(&response)["code"].clone();
    let tokens = rp
        .exchange_code(oauth2::AuthorizationCode::new(code))
        .set_pkce_verifier(started.verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges for tokens");
    let original = jwt_claims(tokens.extra_fields().id_token.as_deref().unwrap());
    let mut refresh_token = tokens.refresh_token().unwrap().secret().clone();

    let mut refreshed = Vec::new();
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(600));
        let response = crate::flow::refresh(&app, &client, &refresh_token, &[]).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
        refreshed.push(jwt_claims(body["id_token"].as_str().unwrap()));
    }

    assert_eq!(original["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(original["acr"], MFA);
    assert_eq!(original["auth_time"], signed_in_at);
    for (n, claims) in refreshed.iter().enumerate() {
        assert_eq!(claims["amr"], original["amr"], "refresh {n}");
        assert_eq!(claims["acr"], MFA, "refresh {n}");
        assert_eq!(claims["auth_time"], signed_in_at, "refresh {n}");
        assert_ne!(
            claims["iat"], original["iat"],
            "refresh {n}: a new ID token"
        );
    }
}

/// The page of an authenticator set up during a sign-in: its secret, after the checks.
fn enrolment_secret(page: &str) -> String {
    assert!(
        page.contains("<h1>Set up an authenticator app</h1>"),
        "{page}"
    );
    assert!(page.contains("<svg"), "the QR code");
    let start = page.find(r#"<code id="totp-secret">"#).expect("the secret") + 23;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

/// Signs in through an authenticator set up on the page shown after the password: the
/// recovery codes page, then the client's redirect it links to.
async fn enrol_during_sign_in(app: &TestApp, browser: &Browser, page: &str) -> String {
    let secret = enrolment_secret(page);
    let wrong = browser.submit(app, page, &[("code", "000000")]).await;
    assert_eq!(wrong.status(), 400, "a wrong first code confirms nothing");
    let retry = wrong.text().await.unwrap();
    let codes = browser
        .submit(app, &retry, &[("code", &code_at(&secret, app.now()))])
        .await;
    assert_eq!(codes.status(), 200);
    let codes = codes.text().await.unwrap();
    assert!(codes.contains("<h1>Your recovery codes</h1>"), "{codes}");
    assert_eq!(codes.matches("<li><code>").count(), 10);
    let link = codes.split("Continue to").next().unwrap();
    let link = link.rsplit(r#"<a href=""#).next().unwrap();
    link.split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

/// The code in a redirect URL to the client.
fn code_in(location: &str) -> String {
    assert!(
        location.starts_with(crate::flow::REDIRECT_URI),
        "{location}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

async fn exchanged_claims(
    app: &TestApp,
    client: &RegisteredClient,
    started: crate::flow::Started,
    code: String,
) -> Value {
    let tokens = relying_party(app, client)
        .exchange_code(oauth2::AuthorizationCode::new(code))
        .set_pkce_verifier(started.verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges for tokens");
    jwt_claims(tokens.extra_fields().id_token.as_deref().unwrap())
}

/// A request that needs a second factor the person has not set up: they set one up during the
/// sign-in (and keep it); with `prompt=none` nobody is there to do it.
async fn a_person_without_a_second_factor_sets_one_up_when_one_is_needed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = web_client();
    client.first_party = true;
    let client = app.register_client(client).await;
    let ann = app.create_user("ann", PASSWORD).await;

    let (browser, response, started) =
        after_password(&app, &client, "ann", &[("acr_values", MFA)]).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let location = enrol_during_sign_in(&app, &browser, &page).await;

    let claims = exchanged_claims(&app, &client, started, code_in(&location)).await;
    assert_eq!(claims["acr"], MFA);
    let factor = app
        .state
        .db
        .find_totp_factor(ann.id)
        .await
        .unwrap()
        .unwrap();
    assert!(factor.is_confirmed(), "kept for the next sign-ins");
    app.create_user("bea", PASSWORD).await;

    // signed in with a password, the request cannot be met without a person there
    let (browser, response, started) = after_password(&app, &client, "bea", &[]).await;
    id_token_claims(&app, &client, started, &response).await;
    let rp = relying_party(&app, &client);
    let silent = start(&rp, &["openid"], &[("acr_values", MFA), ("prompt", "none")]);
    let response = browser.get(&silent.url).await;
    assert_eq!(redirect_params(&response)["error"], "login_required");
}

/// A client registered with `require_mfa` gets a second factor for every sign-in: a password
/// session from another client is stepped up, and a person with no second factor is refused.
async fn a_client_that_requires_mfa_steps_every_password_session_up(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut plain = web_client();
    plain.first_party = true;
    let plain = app.register_client(plain).await;
    let mut strict = web_client();
    strict.first_party = true;
    strict.require_mfa = true;
    let strict = app.register_client(strict).await;
    let ann = app.create_user("ann", PASSWORD).await;
    app.create_user("bob", PASSWORD).await;

    let (bobs, asked, started) = after_password(&app, &strict, "bob", &[]).await;
    let asked = asked.text().await.unwrap();
    let location = enrol_during_sign_in(&app, &bobs, &asked).await;
    assert_eq!(
        exchanged_claims(&app, &strict, started, code_in(&location)).await["acr"],
        MFA
    );
    let (browser, response, started) = after_password(&app, &plain, "ann", &[]).await;
    assert_eq!(
        id_token_claims(&app, &plain, started, &response).await["acr"],
        "urn:gatehouse:acr:password"
    );
    let (secret, _) = enrol_existing(&app, &ann).await;
    let started = start(&relying_party(&app, &strict), &["openid"], &[]);
    let page = second_factor_page(browser.get(&started.url).await).await;
    let response = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;

    assert_eq!(
        id_token_claims(&app, &strict, started, &response).await["acr"],
        MFA
    );
}

/// OIDC Core §3.1.2.1: `prompt=login` and an exceeded `max_age` ask for every factor again, not
/// only the password.
async fn prompt_login_and_max_age_ask_for_the_code_again(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut client = web_client();
    client.first_party = true;
    let client = app.register_client(client).await;
    let (_, secret, _) = enrolled(&app, "ann").await;
    let (browser, response, _) = after_password(&app, &client, "ann", &[]).await;
    let page = second_factor_page(response).await;
    let signed_in = browser
        .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
        .await;
    assert_eq!(signed_in.status(), 303);
    app.clock.advance(Duration::from_secs(120));
    let rp = relying_party(&app, &client);

    for extra in [("prompt", "login"), ("max_age", "60")] {
        let started = start(&rp, &["openid"], &[extra]);
        let login = browser.get(&started.url).await.text().await.unwrap();
        assert!(
            login.contains(r#"name="password""#),
            "{extra:?}: the password again"
        );
        let response = browser
            .submit(&app, &login, &[("username", "ann"), ("password", PASSWORD)])
            .await;
        let page = second_factor_page(response).await;
        app.clock.advance(Duration::from_secs(30));
        let response = browser
            .submit(&app, &page, &[("code", &code_at(&secret, app.now()))])
            .await;
        let claims = id_token_claims(&app, &client, started, &response).await;
        assert_eq!(claims["acr"], MFA, "{extra:?}");
        assert_eq!(claims["auth_time"], app.now(), "{extra:?}");
        app.clock.advance(Duration::from_secs(120));
    }
}

async fn discovery_lists_the_acr_values(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let metadata: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        metadata["acr_values_supported"],
        serde_json::json!(["urn:gatehouse:acr:password", MFA])
    );
    let claims = metadata["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&"amr".into()) && claims.contains(&"acr".into()));
}

crate::on_every_backend!(
    a_person_with_an_authenticator_types_a_code_after_the_password,
    a_code_is_accepted_once_and_within_one_step_of_skew,
    wrong_codes_are_throttled_like_passwords,
    a_recovery_code_signs_in_once_and_says_how_many_are_left,
    a_recovery_code_before_consent_says_on_the_consent_page_how_many_are_left,
    a_password_session_is_stepped_up_by_acr_values_without_signing_in_again,
    a_refreshed_id_token_says_how_the_person_originally_signed_in,
    a_person_without_a_second_factor_sets_one_up_when_one_is_needed,
    a_client_that_requires_mfa_steps_every_password_session_up,
    prompt_login_and_max_age_ask_for_the_code_again,
    discovery_lists_the_acr_values,
);
