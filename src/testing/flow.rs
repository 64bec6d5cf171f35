//! The token calls of a [`TestIssuer`], over HTTP as a relying party makes them, and the
//! browser side of the authorization-code flow done headlessly: follow the authorize URL, fill
//! in the login form with its CSRF token, press Allow, read the code off the redirect.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{TestClient, TestIssuer, TestIssuerError};
use crate::crypto::{random_bytes, random_token, sha256};
use crate::domain::AuthMethod;

/// Pages and redirects a sign-in may pass through before it reaches the client.
const MAX_STEPS: usize = 8;

/// A token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct Tokens {
    pub access_token: String,
    /// With the `openid` scope.
    pub id_token: Option<String>,
    /// With the `refresh_token` grant and, for sign-ins, the `offline_access` scope.
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// A `client_credentials` access token for `client` (RFC 6749 §4.4), asking for `scopes`
    /// (none: every scope the client is allowed).
    pub async fn client_credentials_token(
        &self,
        client: &TestClient,
        scopes: &[&str],
    ) -> Result<String, TestIssuerError> {
        let scope = scopes.join(" ");
        let mut form = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        Ok(self.post_token(client, form).await?.access_token)
    }

    /// Signs `username` in to `client` through the login and consent pages, headlessly, and
    /// exchanges the code (RFC 6749 §4.1, PKCE S256). `client` needs a redirect URI
    /// ([`super::web_client`] has one); `openid` in `scopes` brings an ID token and
    /// `offline_access` a refresh token.
    pub async fn authorization_code_flow(
        &self,
        client: &TestClient,
        username: &str,
        password: &str,
        scopes: &[&str],
    ) -> Result<Tokens, TestIssuerError> {
        let redirect_uri = client.redirect_uri.as_deref().ok_or_else(|| {
            TestIssuerError::Flow(format!("client {} has no redirect URI", client.id))
        })?;
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
        let state = random_token();
        let mut authorize = self.parse_url(&self.authorization_url())?;
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &random_token())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let code = self
            .sign_in(authorize, redirect_uri, username, password, &state)
            .await?;
        let form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.as_str()),
        ];
        self.post_token(client, form).await
    }

    /// Exchanges `refresh_token` for new tokens (RFC 6749 §6); the old one is spent.
    pub async fn refresh(
        &self,
        client: &TestClient,
        refresh_token: &str,
    ) -> Result<Tokens, TestIssuerError> {
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.post_token(client, form).await
    }

    /// What introspection (RFC 7662) says about `token`, asked by `caller`: `{"active": true,
    /// …}` with its claims, or `{"active": false}`.
    pub async fn introspect(
        &self,
        caller: &TestClient,
        token: &str,
    ) -> Result<Value, TestIssuerError> {
        let request = self.http.post(self.introspection_url());
        let response = authenticate(
            request,
            client_form(caller, vec![("token", token)])?,
            caller,
        )
        .send()
        .await?;
        Ok(success(response, "introspection").await?.json().await?)
    }

    async fn post_token(
        &self,
        client: &TestClient,
        form: Vec<(&str, &str)>,
    ) -> Result<Tokens, TestIssuerError> {
        let request = self.http.post(self.token_url());
        let response = authenticate(request, client_form(client, form)?, client)
            .send()
            .await?;
        Ok(success(response, "the token endpoint")
            .await?
            .json()
            .await?)
    }

    /// The browser's part: from the authorize URL to the code on the redirect to the client.
    async fn sign_in(
        &self,
        authorize: Url,
        redirect_uri: &str,
        username: &str,
        password: &str,
        state: &str,
    ) -> Result<String, TestIssuerError> {
        // A browser of its own: its session cookie signs in this flow only.
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut response = browser.get(authorize).send().await?;
        let mut signed_in = false;
        for _ in 0..MAX_STEPS {
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| flow_error("a redirect without a Location"))?;
                let target = response.url().join(location).map_err(flow_error)?;
                if same_endpoint(&target, redirect_uri) {
                    return code_from(&target, state);
                }
                response = browser.get(target).send().await?;
                continue;
            }
            let page = response.text().await?;
            if !status.is_success() || (signed_in && page.contains(r#"name="password""#)) {
                let reason = text_of(&page, r#"id="login-error""#)
                    .or_else(|| text_of(&page, "<h1"))
                    .unwrap_or_else(|| status.to_string());
                return Err(flow_error(format!(
                    "{username} was not signed in: {reason}"
                )));
            }
            let action = attribute_after(&page, "<form", "action")
                .ok_or_else(|| flow_error(format!("a page without a form: {page}")))?;
            let csrf_token = attribute_after(&page, r#"name="csrf_token""#, "value")
                .ok_or_else(|| flow_error("a form without a CSRF token"))?;
            let mut fields = vec![("csrf_token", csrf_token.as_str())];
            if page.contains(r#"name="password""#) {
                fields.extend([("username", username), ("password", password)]);
                signed_in = true;
            } else if page.contains(r#"name="decision""#) {
                fields.push(("decision", "allow"));
            } else {
                return Err(flow_error(format!("an unexpected page: {page}")));
            }
            let target = self
                .parse_url(&self.url)?
                .join(&action)
                .map_err(flow_error)?;
            response = browser.post(target).form(&fields).send().await?;
        }
        Err(flow_error("no redirect to the client after every step"))
    }

    fn parse_url(&self, url: &str) -> Result<Url, TestIssuerError> {
        Url::parse(url).map_err(flow_error)
    }
}

fn flow_error(problem: impl ToString) -> TestIssuerError {
    TestIssuerError::Flow(problem.to_string())
}

/// Whether `target` goes to `redirect_uri` (whatever its query).
fn same_endpoint(target: &Url, redirect_uri: &str) -> bool {
    Url::parse(redirect_uri).is_ok_and(|uri| {
        (
            uri.scheme(),
            uri.host(),
            uri.port_or_known_default(),
            uri.path(),
        ) == (
            target.scheme(),
            target.host(),
            target.port_or_known_default(),
            target.path(),
        )
    })
}

/// The code on the redirect to the client, once `state` matches (RFC 6749 §4.1.2).
fn code_from(redirect: &Url, state: &str) -> Result<String, TestIssuerError> {
    let param = |name: &str| {
        redirect
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if let Some(error) = param("error") {
        let description = param("error_description").unwrap_or_default();
        return Err(flow_error(format!("{error}: {description}")));
    }
    if param("state").as_deref() != Some(state) {
        return Err(flow_error(
            "the redirect does not carry the request's state",
        ));
    }
    param("code").ok_or_else(|| flow_error(format!("no code on {redirect}")))
}

/// `form` with the client's credentials when they travel in the body (RFC 6749 §2.3.1).
fn client_form<'a>(
    client: &'a TestClient,
    mut form: Vec<(&'a str, &'a str)>,
) -> Result<Vec<(&'a str, &'a str)>, TestIssuerError> {
    match client.auth_method {
        AuthMethod::ClientSecretBasic => {}
        AuthMethod::ClientSecretPost => {
            form.push(("client_id", &client.id));
            form.push((
                "client_secret",
                client.secret.as_deref().unwrap_or_default(),
            ));
        }
        AuthMethod::None => form.push(("client_id", &client.id)),
        AuthMethod::PrivateKeyJwt => {
            return Err(flow_error(
                "private_key_jwt clients sign their own assertions; call the token endpoint directly",
            ));
        }
    }
    Ok(form)
}

/// The request with `form` as its body, and HTTP Basic for `client_secret_basic` clients.
fn authenticate(
    request: reqwest::RequestBuilder,
    form: Vec<(&str, &str)>,
    client: &TestClient,
) -> reqwest::RequestBuilder {
    let request = request.form(&form);
    match (&client.auth_method, &client.secret) {
        (AuthMethod::ClientSecretBasic, Some(secret)) => {
            request.basic_auth(&client.id, Some(secret))
        }
        _ => request,
    }
}

/// The response when it is a success, else its status and body as the error.
async fn success(
    response: reqwest::Response,
    endpoint: &'static str,
) -> Result<reqwest::Response, TestIssuerError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(TestIssuerError::Refused {
        endpoint,
        status: status.as_u16(),
        body: response.text().await.unwrap_or_default(),
    })
}

/// The value of `attribute` on the first tag at or after `marker`, unescaped.
fn attribute_after(page: &str, marker: &str, attribute: &str) -> Option<String> {
    let rest = &page[page.find(marker)?..];
    let rest = &rest[..rest.find('>')?];
    let needle = format!(r#"{attribute}=""#);
    let start = rest.find(&needle)? + needle.len();
    let end = start + rest[start..].find('"')?;
    Some(unescape_html(&rest[start..end]))
}

/// The text of the element that `marker` opens (an error message, a heading).
fn text_of(page: &str, marker: &str) -> Option<String> {
    let rest = &page[page.find(marker)?..];
    let start = rest.find('>')? + 1;
    let end = start + rest[start..].find('<')?;
    Some(unescape_html(rest[start..end].trim()))
}

/// Undoes the HTML escaping of the templates (`&amp;`, `&#x2f;`, `&#47;`, …).
fn unescape_html(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_escapes_are_undone() {
        assert_eq!(
            unescape_html("&#x2f;interaction&#47;a?x=1&amp;y=&quot;2&quot;&bogus; & end"),
            r#"/interaction/a?x=1&y="2"&bogus; & end"#
        );
    }

    #[test]
    fn a_form_yields_its_action_and_csrf_token() {
        let page = r#"<h1>Sign in</h1><form method="post" action="&#x2f;interaction&#x2f;abc&#x2f;login">
            <input type="hidden" name="csrf_token" value="t0k&#x2f;en">"#;
        assert_eq!(
            attribute_after(page, "<form", "action").as_deref(),
            Some("/interaction/abc/login")
        );
        assert_eq!(
            attribute_after(page, r#"name="csrf_token""#, "value").as_deref(),
            Some("t0k/en")
        );
        assert_eq!(text_of(page, "<h1").as_deref(), Some("Sign in"));
    }

    #[test]
    fn the_code_is_taken_only_with_the_right_state() {
        let url = Url::parse("http://127.0.0.1/callback?code=c&state=s").unwrap();
        assert_eq!(code_from(&url, "s").unwrap(), "c");
        assert!(code_from(&url, "other").is_err());
        let denied = Url::parse("http://127.0.0.1/callback?error=access_denied&state=s").unwrap();
        assert!(code_from(&denied, "s").is_err());
    }
}
