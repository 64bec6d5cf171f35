//! The authorization-code flow through the real login and consent pages: Chromium opens the
//! authorize URL, a person types their name and password and presses Allow, and the browser
//! lands on the client's redirect URI with a code the client then exchanges.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::wait::Wait;
use fantoccini::{Client, Locator};
use gatehouse::admin::clients::NewClient;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse as _, TokenUrl,
};

use crate::callback::Callback;
use crate::chromedriver::{self, in_browser};
use crate::helpers::{Backend, spawn_app};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_person_signs_in_and_allows_access_in_a_real_browser() {
    if !chromedriver::available() {
        return;
    }
    // Arrange: Gatehouse, the client's redirect URI, a client and a person.
    let app = spawn_app(Backend::Embedded)
        .await
        .expect("the embedded backend always runs");
    let mut callback = Callback::start().await;
    let client = app
        .register_client(NewClient {
            name: "Example App".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: vec!["openid".into(), "profile".into()],
            redirect_uris: vec![callback.redirect_uri.clone()],
            ..NewClient::default()
        })
        .await;
    app.create_user(USERNAME, PASSWORD).await;
    let rp = BasicClient::new(ClientId::new(client.id.clone()))
        .set_client_secret(ClientSecret::new(client.secret.clone().unwrap()))
        .set_auth_uri(AuthUrl::new(format!("{}/oauth2/authorize", app.address)).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.address)).unwrap())
        .set_redirect_uri(RedirectUrl::new(callback.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = rp
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Act: the person signs in and allows access in Chromium.
    let landed = in_browser("login", async |browser, artifacts| {
        sign_in_and_allow(browser, authorize_url.as_str(), &mut callback, artifacts).await
    })
    .await;

    // Assert: the browser is on the redirect URI with a code, the state and the issuer.
    assert!(
        landed
            .as_str()
            .starts_with(&format!("{}?", callback.redirect_uri)),
        "{landed}"
    );
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param("iss").as_deref(), Some(app.issuer.as_str()));
    let code = param("code").unwrap_or_else(|| panic!("no code in {landed}"));

    // The client exchanges the code with its PKCE verifier for an access token.
    let token = rp
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&app.client)
        .await
        .expect("the token endpoint accepts the code");
    assert!(!token.access_token().secret().is_empty());
}

/// Drives the login and consent pages; returns the URL the browser lands on.
async fn sign_in_and_allow(
    browser: &Client,
    authorize_url: &str,
    callback: &mut Callback,
    artifacts: &Path,
) -> url::Url {
    browser.goto(authorize_url).await.unwrap();
    let username = wait(browser)
        .for_element(Locator::Css(r#"input[name="username"]"#))
        .await
        .expect("the login page shows");
    save_screenshot(browser, &artifacts.join("login.png")).await;
    username.send_keys(USERNAME).await.unwrap();
    let password = browser
        .find(Locator::Css(r#"input[name="password"]"#))
        .await
        .unwrap();
    password.send_keys(PASSWORD).await.unwrap();
    browser
        .find(Locator::Css(r#"button[type="submit"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    wait(browser)
        .for_element(Locator::Css(r#"button[name="decision"][value="allow"]"#))
        .await
        .expect("the consent page shows")
        .click()
        .await
        .unwrap();

    // The callback server sees the request first; then the browser's address bar must match it.
    let hit = callback.next_hit().await;
    wait(browser)
        .for_url(&hit)
        .await
        .expect("the browser shows the redirect URI");
    browser.current_url().await.unwrap()
}

/// Page changes take well under a second here; 15 s leaves room for a loaded CI machine.
pub(crate) fn wait(browser: &Client) -> Wait<'_> {
    browser
        .wait()
        .at_most(Duration::from_secs(15))
        .every(Duration::from_millis(100))
}

/// Where screenshots go: the test's temporary directory, or `GATEHOUSE_BROWSER_ARTIFACTS` to
/// keep them.
pub(crate) fn artifacts_dir(temporary: &Path) -> PathBuf {
    match std::env::var_os("GATEHOUSE_BROWSER_ARTIFACTS") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).expect("the artifacts directory");
            PathBuf::from(dir)
        }
        None => temporary.to_path_buf(),
    }
}

pub(crate) async fn save_screenshot(browser: &Client, path: &Path) {
    match browser.screenshot().await {
        Ok(png) => {
            std::fs::write(path, png).expect("the screenshot is written");
            eprintln!("screenshot: {}", path.display());
        }
        Err(error) => eprintln!("no screenshot at {}: {error}", path.display()),
    }
}
