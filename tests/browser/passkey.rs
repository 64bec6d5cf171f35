//! Passkeys in a real browser, with the WebDriver virtual authenticator (WebAuthn Level 2
//! §11, "WebDriver Extension": a CTAP2 authenticator with resident keys and user verification):
//! a person adds a passkey on the account page and renames it, signs in with it alone (no
//! username, no password), then uses it as the second factor after a password, and removes it.
//! Each page is checked for its heading and for no console error, and screenshotted.
//!
//! WebAuthn needs a domain (an IP address is no RP ID), so this Gatehouse's issuer is
//! `http://localhost:PORT` and the browser goes there.

use std::path::Path;

use base64::Engine as _;
use fantoccini::{Client, Locator};
use gatehouse::admin::clients::NewClient;
use serde_json::{Value, json};

use crate::callback::Callback;
use crate::chromedriver::{self, PKCE_VERIFIER, authorize_url, in_browser};
use crate::helpers::{Backend, RegisteredClient, TestApp, spawn_app_with};
use crate::login::wait;
use crate::second_factor::{click, shows, type_into, waits_for};

const USERNAME: &str = "dana";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_person_adds_a_passkey_and_signs_in_with_it_alone_and_as_a_second_factor() {
    if !chromedriver::available() {
        return;
    }
    // A port for the issuer `http://localhost:PORT`, known before the service binds it.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port();
    let app = spawn_app_with(Backend::Embedded, |settings| {
        settings.server.bind =
            gatehouse::config::BindAddress::from_socket_addr(([127, 0, 0, 1], port).into());
        settings.server.issuer = Some(
            format!("http://localhost:{port}")
                .parse()
                .expect("the issuer parses"),
        );
    })
    .await
    .expect("the embedded backend always runs");
    assert!(
        app.state.passkeys.enabled(),
        "passkeys are on for localhost"
    );
    let mut callback = Callback::start().await;
    let client = app
        .register_client(NewClient {
            name: "Example App".into(),
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into()],
            redirect_uris: vec![callback.redirect_uri.clone()],
            first_party: true,
            require_mfa: true,
            ..NewClient::default()
        })
        .await;
    app.create_user(USERNAME, PASSWORD).await;
    let authorize_url = authorize_url(&app.issuer, &client.id, &callback.redirect_uri, "");

    let codes = in_browser("passkey", async |browser, artifacts| {
        use_passkeys(browser, &app, &authorize_url, &mut callback, artifacts).await
    })
    .await;

    // RFC 8176: a passkey alone is two factors (user verification on a key held); after a
    // password it is the second. The virtual authenticator's keys are not backup eligible.
    let redirect_uri = callback.redirect_uri.clone();
    let amr_alone = id_token_amr(&app, &client, &redirect_uri, &codes.alone).await;
    assert_eq!(amr_alone, json!(["hwk", "mfa"]));
    let amr_second = id_token_amr(&app, &client, &redirect_uri, &codes.second_factor).await;
    assert_eq!(amr_second, json!(["pwd", "hwk", "mfa"]));
}

/// The codes the client received.
struct Codes {
    alone: String,
    second_factor: String,
}

async fn use_passkeys(
    browser: &Client,
    app: &TestApp,
    authorize_url: &str,
    callback: &mut Callback,
    artifacts: &Path,
) -> Codes {
    add_virtual_authenticator(browser).await;

    // On the account page, signed in with the password: a passkey is added and renamed.
    browser
        .goto(&format!("{}/account", app.issuer))
        .await
        .unwrap();
    type_into(browser, r#"input[name="username"]"#, USERNAME).await;
    type_into(browser, r#"input[name="password"]"#, PASSWORD).await;
    click(browser, r#"form[action$="/login"] button"#).await;
    shows(browser, "Your account", artifacts, "passkey-account").await;
    type_into(browser, "#passkey-name", "Laptop").await;
    click(browser, "#add-passkey button").await;
    // The person's first second factor: its recovery codes, once.
    shows(
        browser,
        "Your recovery codes",
        artifacts,
        "passkey-recovery-codes",
    )
    .await;
    browser
        .goto(&format!("{}/account", app.issuer))
        .await
        .unwrap();
    shows(browser, "Your account", artifacts, "passkey-added").await;
    let rename = r#"form[action$="/rename"] input[name="name"]"#;
    browser
        .find(Locator::Css(rename))
        .await
        .expect("a rename form for the passkey")
        .clear()
        .await
        .unwrap();
    type_into(browser, rename, "Work laptop").await;
    click(browser, r#"form[action$="/rename"] button"#).await;
    waits_for(browser, "p", "Your passkey was renamed.").await;
    shows(browser, "Your account", artifacts, "passkey-renamed").await;
    let listed = browser
        .find(Locator::Css("ul.passkeys li strong"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listed, "Work laptop");

    // Signed out: the client (which requires MFA) gets a code from the passkey alone.
    forget_session(browser, app).await;
    browser.goto(authorize_url).await.unwrap();
    shows(
        browser,
        "Sign in to continue to Example App",
        artifacts,
        "passkey-login",
    )
    .await;
    click(browser, "#passkey-sign-in").await;
    let alone = code_from(browser, callback).await;

    // Signed out again: the password first, then the passkey as the second factor.
    forget_session(browser, app).await;
    browser.goto(authorize_url).await.unwrap();
    shows(
        browser,
        "Sign in to continue to Example App",
        artifacts,
        "passkey-login-again",
    )
    .await;
    type_into(browser, r#"input[name="username"]"#, USERNAME).await;
    type_into(browser, r#"input[name="password"]"#, PASSWORD).await;
    click(browser, r#"form[action$="/login"] button"#).await;
    shows(
        browser,
        "Enter your verification code",
        artifacts,
        "passkey-second-factor",
    )
    .await;
    click(browser, "#passkey-second-factor").await;
    let second_factor = code_from(browser, callback).await;

    // Removed on the account page (signed in by the passkey session just made).
    browser
        .goto(&format!("{}/account", app.issuer))
        .await
        .unwrap();
    shows(browser, "Your account", artifacts, "passkey-before-removal").await;
    click(browser, r#"form[action$="/remove"] button"#).await;
    waits_for(browser, "p", "Your passkey was removed.").await;
    shows(browser, "Your account", artifacts, "passkey-removed").await;
    assert!(
        browser
            .find_all(Locator::Css("ul.passkeys li"))
            .await
            .unwrap()
            .is_empty()
    );
    Codes {
        alone,
        second_factor,
    }
}

/// Signs the browser out by dropping Gatehouse's cookies (WebDriver deletes the cookies of the
/// page shown, so Gatehouse's origin is shown first).
async fn forget_session(browser: &Client, app: &TestApp) {
    browser
        .goto(&format!("{}/healthz", app.issuer))
        .await
        .unwrap();
    browser.delete_all_cookies().await.unwrap();
}

/// WebAuthn Level 2 §11.3 "Add Virtual Authenticator": an internal CTAP2 authenticator with
/// resident keys and user verification that always verifies, present without a touch.
async fn add_virtual_authenticator(browser: &Client) {
    let options = json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserVerified": true,
        "automaticPresenceSimulation": true,
    });
    browser
        .issue_cmd(AddVirtualAuthenticator(options))
        .await
        .expect("chromedriver adds a virtual authenticator");
}

#[derive(Debug)]
struct AddVirtualAuthenticator(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// The code of the next redirect to the client.
async fn code_from(browser: &Client, callback: &mut Callback) -> String {
    let hit = callback.next_hit().await;
    wait(browser)
        .for_url(&hit)
        .await
        .expect("the browser shows the redirect URI");
    hit.query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, code)| code.into_owned())
        .unwrap_or_else(|| panic!("no code in {hit}"))
}

/// The `amr` of the ID token the code is exchanged for.
async fn id_token_amr(
    app: &TestApp,
    client: &RegisteredClient,
    redirect_uri: &str,
    code: &str,
) -> Value {
    let (id, secret) = client.basic().expect("a confidential client");
    let response: Value = app
        .client
        .post(format!("{}/oauth2/token", app.address))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = response["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an ID token: {response}"));
    let payload = id_token.split('.').nth(1).expect("a JWS payload");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa", "{claims}");
    claims["amr"].clone()
}
