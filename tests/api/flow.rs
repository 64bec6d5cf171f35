//! The browser side of the authorization-code flow, done over plain HTTP the way a person's
//! browser would: follow the authorize URL, fill in the login form with its CSRF token, press
//! Allow, and read the code off the redirect. The `oauth2` crate builds the request and
//! exchanges the code, as a relying party would.

use std::collections::HashMap;

use gatehouse::admin::clients::NewClient;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::helpers::{RegisteredClient, TestApp};

pub const REDIRECT_URI: &str = "https://app.example.com/callback";
pub const PASSWORD: &str = "correct horse battery staple";

/// A confidential web application that signs people in and may refresh.
pub fn web_client() -> NewClient {
    NewClient {
        name: "Example App".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec![
            "openid".into(),
            "profile".into(),
            "email".into(),
            "offline_access".into(),
            "orders:read".into(),
        ],
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec!["https://app.example.com/signed-out".into()],
        ..NewClient::default()
    }
}

/// The OpenID Connect member of a token response (OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

pub type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type OidcClient<A, D, I, R, T> = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    A,
    D,
    I,
    R,
    T,
>;

pub type RelyingParty =
    OidcClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An HTTP client for the relying party's back-channel calls (no redirects, RFC 6749 §3.2).
pub fn back_channel() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `oauth2` crate configured as `client`'s relying party.
pub fn relying_party(app: &TestApp, client: &RegisteredClient) -> RelyingParty {
    let mut rp = OidcClient::new(ClientId::new(client.id.clone()))
        .set_auth_uri(AuthUrl::new(format!("{}/oauth2/authorize", app.address)).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.address)).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    if let Some(secret) = &client.secret {
        rp = rp.set_client_secret(ClientSecret::new(secret.clone()));
    }
    rp
}

/// An authorization request as the relying party makes it, and what it keeps to finish it.
pub struct Started {
    pub url: String,
    pub state: CsrfToken,
    pub verifier: PkceCodeVerifier,
}

pub fn start(rp: &RelyingParty, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    for (name, value) in extra {
        request = request.add_extra_param(*name, *value);
    }
    let (url, state) = request.url();
    Started {
        url: url.to_string(),
        state,
        verifier,
    }
}

/// A browser: keeps its cookies, never follows redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// Submits the page's form with its hidden fields and `fields`.
    pub async fn submit(
        &self,
        app: &TestApp,
        page: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let form = Form::of(page);
        let mut body = vec![("csrf_token", form.csrf_token.as_str())];
        body.extend_from_slice(fields);
        self.http
            .post(format!("{}{}", app.address, form.action))
            .form(&body)
            .send()
            .await
            .unwrap()
    }

    /// From the authorize URL to the redirect back to the client: signs in when asked, and
    /// answers the consent page with `decision` when shown.
    pub async fn authorize(
        &self,
        app: &TestApp,
        url: &str,
        username: &str,
        decision: &str,
    ) -> reqwest::Response {
        let mut response = self.get(url).await;
        for _ in 0..3 {
            if response.status() != 200 {
                return response;
            }
            let page = response.text().await.unwrap();
            response = if page.contains(r#"name="password""#) {
                self.submit(
                    app,
                    &page,
                    &[("username", username), ("password", PASSWORD)],
                )
                .await
            } else if page.contains(r#"name="decision""#) {
                self.submit(app, &page, &[("decision", decision)]).await
            } else {
                panic!("an unexpected page: {page}");
            };
        }
        response
    }
}

/// The hidden parts of a Gatehouse form.
pub struct Form {
    pub action: String,
    pub csrf_token: String,
}

impl Form {
    pub fn of(page: &str) -> Self {
        Self {
            action: attribute_after(page, "<form", "action"),
            csrf_token: attribute_after(page, r#"name="csrf_token""#, "value"),
        }
    }
}

fn attribute_after(page: &str, marker: &str, attribute: &str) -> String {
    let from = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {page}"));
    let rest = &page[from..];
    let start = rest.find(&format!(r#"{attribute}=""#)).unwrap() + attribute.len() + 2;
    let end = start + rest[start..].find('"').unwrap();
    rest[start..end]
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

/// The query parameters of a redirect's `Location`.
pub fn redirect_params(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), 303, "a redirect to the client");
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

/// Signs `username` in through the pages and returns the code with what the client kept.
pub async fn code_for(
    app: &TestApp,
    browser: &Browser,
    rp: &RelyingParty,
    scopes: &[&str],
    username: &str,
) -> (AuthorizationCode, PkceCodeVerifier) {
    let started = start(rp, scopes, &[("nonce", "n-0S6_WzA2Mj")]);
    let response = browser
        .authorize(app, &started.url, username, "allow")
        .await;
    let params = redirect_params(&response);
    assert_eq!(
        params.get("state"),
        Some(started.state.secret()),
        "{params:?}"
    );
    assert_eq!(params.get("iss"), Some(&app.issuer), "{params:?}");
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {params:?}"));
    (AuthorizationCode::new(code.clone()), started.verifier)
}

/// What a relying party and its user's browser hold once someone has signed in.
pub struct SignedIn {
    pub browser: Browser,
    /// The browser's cookies, to read the session cookie from.
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl SignedIn {
    /// The `Cookie` header the browser would send to Gatehouse.
    pub fn cookies(&self, app: &TestApp) -> String {
        use reqwest::cookie::CookieStore as _;
        let url = url::Url::parse(&app.address).unwrap();
        self.jar
            .cookies(&url)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// Signs `username` (already created) in to `client` with `scopes` through the pages, and
/// exchanges the code the way the relying party does.
pub async fn sign_in_and_exchange(
    app: &TestApp,
    client: &RegisteredClient,
    scopes: &[&str],
    username: &str,
) -> SignedIn {
    use oauth2::TokenResponse as _;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = Browser {
        http: reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::clone(&jar))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let rp = relying_party(app, client);
    let (code, verifier) = code_for(app, &browser, &rp, scopes, username).await;
    let tokens = rp
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&back_channel())
        .await
        .expect("the code exchanges for tokens");
    SignedIn {
        browser,
        jar,
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        id_token: tokens.extra_fields().id_token.clone(),
    }
}

/// RFC 6749 §6: `grant_type=refresh_token` by `client` over HTTP Basic, plus `extra`.
pub async fn refresh(
    app: &TestApp,
    client: &RegisteredClient,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    app.post_token(&form, client.basic()).await
}

/// `GET /oauth2/userinfo` with `Authorization: Bearer <token>` (RFC 6750 §2.1).
pub async fn get_userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/oauth2/userinfo", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}
