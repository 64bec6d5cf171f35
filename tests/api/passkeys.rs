//! Passkeys over HTTP, where no authenticator is needed: which pages offer one (and with what
//! WebAuthn options), what a wrong or replayed answer gets (the same page again, nothing
//! changed, the password still working), and what an admin sees and resets. The ceremonies
//! themselves, with an authenticator, are in tests/browser/passkey.rs.

use gatehouse::config::BindAddress;
use gatehouse::store::StoredPasskey;
use serde_json::{Value, json};

use crate::admin_helpers::AdminApi;
use crate::flow::{Browser, Form, PASSWORD, redirect_params, relying_party, start, web_client};
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

/// A service whose issuer is `http://localhost:PORT`, on which passkeys are on (the tests talk
/// to it at 127.0.0.1 all the same).
async fn on_localhost(backend: Backend) -> Option<TestApp> {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port();
    spawn_app_with(backend, |settings| {
        settings.server.bind = BindAddress::from_socket_addr(([127, 0, 0, 1], port).into());
        settings.server.issuer = Some(format!("http://localhost:{port}").parse().unwrap());
    })
    .await
}

/// The WebAuthn options a page's passkey form carries, or `None` if it has none.
fn passkey_options(page: &str) -> Option<Value> {
    let from = page.find("data-options=\"")? + "data-options=\"".len();
    let end = from + page[from..].find('"')?;
    let json = page[from..end]
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x22;", "\"")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    Some(serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}")))
}

/// Posts `credential` to the passkey form of `page`.
async fn answer_passkey(
    app: &TestApp,
    browser: &Browser,
    page: &str,
    credential: &str,
) -> reqwest::Response {
    let form = Form::of(page);
    let action = form.action.replace("/login", "/passkey");
    browser
        .http
        .post(format!("{}{action}", app.address))
        .form(&[
            ("csrf_token", form.csrf_token.as_str()),
            ("credential", credential),
        ])
        .send()
        .await
        .unwrap()
}

/// An answer shaped like a WebAuthn assertion, for a credential nobody registered.
fn stray_assertion() -> String {
    json!({
        "id": "c3RyYXk",
        "rawId": "c3RyYXk",
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "e30",
            "signature": "AAAA",
            "userHandle": null,
        },
        "clientExtensionResults": {},
    })
    .to_string()
}

async fn an_issuer_on_an_address_offers_no_passkey(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    assert!(!app.state.passkeys.enabled());
    let client = app.register_client(web_client()).await;
    let browser = Browser::new();
    let started = start(&relying_party(&app, &client), &["openid"], &[]);
    let page = browser.get(&started.url).await.text().await.unwrap();

    assert!(page.contains(r#"name="password""#), "{page}");
    assert!(!page.contains("data-passkey"), "{page}");
    assert!(!page.contains("passkey.js"), "no script at all: {page}");
    let refused = answer_passkey(&app, &browser, &page, &stray_assertion()).await;
    assert_eq!(refused.status(), 400);
}

async fn the_login_page_offers_a_passkey_and_a_wrong_answer_changes_nothing(backend: Backend) {
    let Some(app) = on_localhost(backend).await else {
        return;
    };
    assert!(app.state.passkeys.enabled());
    let mut first_party = web_client();
    first_party.first_party = true;
    let client = app.register_client(first_party).await;
    app.create_user("ann", PASSWORD).await;
    let browser = Browser::new();
    let started = start(&relying_party(&app, &client), &["openid"], &[]);
    let response = browser.get(&started.url).await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();

    // The options: a discoverable-credential request (no allow list) for this relying party,
    // user verification required; the script comes from this origin only.
    let options = passkey_options(&page).expect("a passkey form on the login page");
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rpId"], "localhost", "{options}");
    assert_eq!(public_key["userVerification"], "required", "{options}");
    assert!(
        public_key["challenge"].as_str().unwrap().len() >= 43,
        "{options}"
    );
    assert!(
        public_key["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{options}"
    );
    assert!(
        page.contains(r#"<script src="/assets/passkey.js" defer>"#),
        "{page}"
    );
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let script = app.get("/assets/passkey.js").await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // Not a credential, then a credential nobody has: the login page again, each time with a
    // new challenge; the password still signs in.
    let garbage = answer_passkey(&app, &browser, &page, "not json").await;
    assert_eq!(garbage.status(), 400);
    let again = garbage.text().await.unwrap();
    assert!(again.contains("That passkey was not accepted"), "{again}");
    let renewed = passkey_options(&again).expect("the passkey form again");
    assert_ne!(renewed["publicKey"]["challenge"], public_key["challenge"]);
    let stray = answer_passkey(&app, &browser, &again, &stray_assertion()).await;
    assert_eq!(stray.status(), 400);
    let again = stray.text().await.unwrap();

    let signed_in = browser
        .submit(&app, &again, &[("username", "ann"), ("password", PASSWORD)])
        .await;
    let params = redirect_params(&signed_in);
    assert!(params.contains_key("code"), "{params:?}");
}

async fn an_admin_sees_a_persons_passkeys_and_a_reset_removes_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let api = AdminApi::new(&app).await;
    let user = app.create_user("ann", PASSWORD).await;
    let added = StoredPasskey {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        credential_id: b"credential".to_vec(),
        name: "Security key".into(),
        credential: json!({}),
        created_at: app.state.clock.now(),
        last_used_at: None,
    };
    app.state.db.add_passkey(&added).await.unwrap();
    let path = format!("/v1/users/{}/factors", user.id);

    let factors: Value = api.get(&path).await.json().await.unwrap();
    assert_eq!(
        factors["passkeys"][0]["id"],
        added.id.to_string(),
        "{factors}"
    );
    assert_eq!(factors["passkeys"][0]["name"], "Security key");
    assert_eq!(factors["passkeys"][0]["last_used_at"], Value::Null);
    assert!(!factors.to_string().contains("credential"), "{factors}");

    assert_eq!(api.delete(&path, None).await.status(), 204);
    let factors: Value = api.get(&path).await.json().await.unwrap();
    assert_eq!(factors["passkeys"], json!([]));
}

crate::on_every_backend!(
    an_issuer_on_an_address_offers_no_passkey,
    the_login_page_offers_a_passkey_and_a_wrong_answer_changes_nothing,
    an_admin_sees_a_persons_passkeys_and_a_reset_removes_them,
);
