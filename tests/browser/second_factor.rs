//! Second factors in a real browser: a person signs in on the account page, sets up an
//! authenticator app from the page (the secret read off the page, the code typed), sees the
//! recovery codes, and an application asking for `acr_values=…mfa` steps the session up with the
//! code page. Each page is checked for its heading and for no console error, and screenshotted
//! (kept with `GATEHOUSE_BROWSER_ARTIFACTS`).

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use gatehouse::admin::clients::NewClient;

use crate::callback::Callback;
use crate::chromedriver::{self, authorize_url, console_errors, in_browser};
use crate::common::totp::code_at;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::login::{save_screenshot, wait};

const USERNAME: &str = "carol";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_person_sets_up_an_authenticator_on_the_account_page_and_is_stepped_up_with_it() {
    if !chromedriver::available() {
        return;
    }
    let app = spawn_app(Backend::Embedded)
        .await
        .expect("the embedded backend always runs");
    let mut callback = Callback::start().await;
    let client = app
        .register_client(NewClient {
            name: "Example App".into(),
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into()],
            redirect_uris: vec![callback.redirect_uri.clone()],
            first_party: true,
            ..NewClient::default()
        })
        .await;
    app.create_user(USERNAME, PASSWORD).await;
    let authorize_url = authorize_url(
        &app.address,
        &client.id,
        &callback.redirect_uri,
        "&acr_values=urn%3Agatehouse%3Aacr%3Amfa",
    );

    let landed = in_browser("second-factor", async |browser, artifacts| {
        enrol_and_step_up(browser, &app, &authorize_url, &mut callback, artifacts).await
    })
    .await;

    assert!(
        landed.query_pairs().any(|(key, _)| key == "code"),
        "a code for the client after the step-up: {landed}"
    );
}

/// Waits for a page whose heading is `expected` (the page a click leads to may take a moment,
/// a passkey ceremony longer: the page before stays up until then); no console error on the way.
pub(crate) async fn shows(browser: &Client, expected: &str, artifacts: &Path, name: &str) {
    waits_for(browser, "h1", expected).await;
    save_screenshot(browser, &artifacts.join(format!("{name}.png"))).await;
    let errors = console_errors(browser).await;
    assert!(errors.is_empty(), "console errors on {name}: {errors:?}");
}

/// Waits until an element `tag` with the text `text` is shown.
pub(crate) async fn waits_for(browser: &Client, tag: &str, text: &str) {
    assert!(!text.contains('\''), "no quote in an XPath literal: {text}");
    let xpath = format!("//{tag}[normalize-space()='{text}']");
    if wait(browser)
        .for_element(Locator::XPath(&xpath))
        .await
        .is_err()
    {
        let shown = match browser.find(Locator::Css(tag)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        panic!("no {tag} saying {text:?}; the page shows {shown:?}");
    }
}

pub(crate) async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap();
}

pub(crate) async fn type_into(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn enrol_and_step_up(
    browser: &Client,
    app: &TestApp,
    authorize_url: &str,
    callback: &mut Callback,
    artifacts: &Path,
) -> url::Url {
    browser
        .goto(&format!("{}/account", app.address))
        .await
        .unwrap();
    shows(
        browser,
        "Sign in to continue to your Gatehouse account",
        artifacts,
        "account-sign-in",
    )
    .await;
    type_into(browser, r#"input[name="username"]"#, USERNAME).await;
    type_into(browser, r#"input[name="password"]"#, PASSWORD).await;
    click(browser, r#"button[type="submit"]"#).await;
    shows(browser, "Your account", artifacts, "account").await;

    click(browser, r#"form[action="/account/totp"] button"#).await;
    shows(
        browser,
        "Set up an authenticator app",
        artifacts,
        "totp-enrolment",
    )
    .await;
    browser
        .find(Locator::Css("div.qr svg"))
        .await
        .expect("the QR code, rendered by the server");
    let secret = browser
        .find(Locator::Css("#totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    type_into(
        browser,
        r#"input[name="code"]"#,
        &code_at(&secret, app.now()),
    )
    .await;
    click(browser, r#"button[type="submit"]"#).await;
    shows(browser, "Your recovery codes", artifacts, "recovery-codes").await;
    let codes = browser
        .find_all(Locator::Css("ul.recovery-codes li"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);

    // The next code, as the app shows it 30 s later; the session has a password only.
    app.clock.advance(Duration::from_secs(30));
    browser.goto(authorize_url).await.unwrap();
    shows(
        browser,
        "Enter your verification code",
        artifacts,
        "second-factor",
    )
    .await;
    type_into(
        browser,
        r#"input[name="code"]"#,
        &code_at(&secret, app.now()),
    )
    .await;
    click(browser, r#"button[type="submit"]"#).await;
    let hit = callback.next_hit().await;
    wait(browser)
        .for_url(&hit)
        .await
        .expect("the browser shows the redirect URI");
    browser.current_url().await.unwrap()
}
