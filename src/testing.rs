//! Gatehouse inside the tests of other crates (the `testing` feature): [`TestIssuer`] is a real
//! provider, in this process, on a free loopback port, with everything in memory.
//!
//! ```toml
//! [dev-dependencies]
//! gatehouse = { git = "…", features = ["testing"] }
//! ```

mod flow;

use std::sync::Arc;

use actix_web::web;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use crate::admin::AdminError;
use crate::admin::clients::{MAX_ACCESS_TOKEN_TTL_SECS, NewClient, create_client};
use crate::admin::users::{NewUser, create_user};
use crate::clock::{Clock, FixedClock};
use crate::config::{BindAddress, ConfigError, Settings};
use crate::crypto::Password;
use crate::domain::{AuthMethod, ScopeSet};
use crate::http::paths;
use crate::oauth::tokens::{self, OneOrMany};
use crate::startup::{Application, StartupError};
use crate::state::AppState;

pub use self::flow::Tokens;

/// The redirect URI of [`web_client`]. The headless flow reads the code off the redirect and
/// never follows it, so nothing needs to listen there.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The `client_id` claim (and default audience) of a minted token when the request names none,
/// as for `POST /testing/tokens`.
pub const MINT_CLIENT_ID: &str = "testing";
/// Who the clients and users a [`TestIssuer`] creates are recorded as created by.
const ACTOR: &str = "testing";

/// Why a [`TestIssuer`] call failed. `Display` says what Gatehouse answered.
#[derive(Debug, thiserror::Error)]
pub enum TestIssuerError {
    #[error("the settings are refused: {0}")]
    Config(#[from] ConfigError),
    #[error("the provider did not start: {0}")]
    Start(#[from] StartupError),
    #[error("refused: {0}")]
    Admin(#[from] AdminError),
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// An endpoint answered with an error status.
    #[error("{endpoint} answered {status}: {body}")]
    Refused {
        endpoint: &'static str,
        status: u16,
        body: String,
    },
    /// The headless sign-in met something it cannot get past (wrong password, a denied
    /// authorization, an unexpected page).
    #[error("the authorization-code flow failed: {0}")]
    Flow(String),
    #[error("cannot mint the token: {0}")]
    Mint(String),
}

/// A client registered with [`TestIssuer::add_client`], with its secret when it has one.
#[derive(Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// Its first registered redirect URI, the one the authorization-code flow uses.
    pub redirect_uri: Option<String>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("auth_method", &self.auth_method)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// A user created with [`TestIssuer::add_user`]; `id` is the `sub` of their tokens.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
}

/// What [`TestIssuer::mint`] signs: the fields of `POST /testing/tokens`.
#[derive(Debug, Clone, Default)]
pub struct MintRequest {
    pub sub: String,
    /// The audiences; none means the `client_id`.
    pub aud: Vec<String>,
    /// The `client_id` claim; `None` means [`MINT_CLIENT_ID`].
    pub client_id: Option<String>,
    /// The scopes, space-separated as in a token response (`"orders:read orders:write"`).
    pub scope: String,
    /// Further claims; none may be one Gatehouse sets itself (`iss`, `exp`, `gid`, …).
    pub claims: Map<String, Value>,
    /// Lifetime in seconds, 1 to 86400; `None` means `tokens.access_token_ttl_secs`.
    pub expires_in: Option<u32>,
}

impl MintRequest {
    /// A token for `sub` with every other field at its default.
    pub fn for_subject(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            ..Self::default()
        }
    }
}

/// A confidential service (`client_credentials`, HTTP Basic) allowed `scopes`.
pub fn service_client(name: &str, scopes: &[&str]) -> NewClient {
    NewClient {
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..NewClient::default()
    }
}

/// A confidential web application that signs people in (`authorization_code`,
/// `refresh_token`) at [`REDIRECT_URI`], allowed `scopes` (add `openid` for ID tokens and
/// `offline_access` for refresh tokens).
pub fn web_client(name: &str, scopes: &[&str]) -> NewClient {
    NewClient {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        redirect_uris: vec![REDIRECT_URI.into()],
        ..service_client(name, scopes)
    }
}

/// A running Gatehouse for one test: `sqlite::memory:`, the memory ephemeral store, signing keys
/// generated at start under a key-encryption key that never leaves the process, nothing read from
/// `gatehouse.toml` or `GATEHOUSE_*` and nothing written to disk. It listens on `127.0.0.1`, port
/// 0, in test mode (`POST /testing/tokens`), on a [`FixedClock`] that moves only when told, and
/// with argon2id at m=64 KiB, t=1 (valid, cheap: a sign-in costs well under a millisecond
/// instead of tens). Dropping it, or [`TestIssuer::stop`], shuts the server down.
///
/// A downstream test: start it, register a client, get a token, and check the token the way a
/// resource server does, against the JWKS.
///
/// ```
/// use gatehouse::testing::{TestIssuer, service_client};
/// use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let client = issuer.add_client(service_client("billing", &["invoices:read"])).await?;
/// let token = issuer.client_credentials_token(&client, &["invoices:read"]).await?;
///
/// let jwks: JwkSet = reqwest::get(issuer.jwks_url()).await?.json().await?;
/// let header = decode_header(&token)?;
/// let jwk = jwks.find(header.kid.as_deref().unwrap_or_default()).ok_or("unknown kid")?;
/// let mut validation = Validation::new(header.alg);
/// validation.set_issuer(&[issuer.issuer()]);
/// validation.set_audience(&[&client.id]);
/// let claims = decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
/// assert_eq!(claims["scope"], "invoices:read");
///
/// issuer.stop().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestIssuer {
    url: String,
    state: web::Data<AppState>,
    clock: Arc<FixedClock>,
    http: reqwest::Client,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestIssuer {
    /// Starts a provider; it answers as soon as this returns.
    pub async fn start() -> Result<Self, TestIssuerError> {
        Self::start_with(|_| {}).await
    }

    /// As [`TestIssuer::start`], with `configure` applied to the settings last (token
    /// lifetimes, `server.public_url`, …). Settings that are not in memory are the caller's
    /// choice; test mode with PostgreSQL is refused.
    pub async fn start_with(
        configure: impl FnOnce(&mut Settings),
    ) -> Result<Self, TestIssuerError> {
        let mut settings = Settings::default();
        settings.make_ephemeral()?;
        settings.server.bind = BindAddress::from_socket_addr(([127, 0, 0, 1], 0).into());
        // One worker thread: a test sends few requests at a time, and each thread costs start time.
        settings.server.workers = Some(1);
        settings.server.shutdown_timeout_secs = 0;
        settings.passwords.memory_kib = 64;
        settings.passwords.iterations = 1;
        settings.passwords.parallelism = 1;
        configure(&mut settings);
        let clock = Arc::new(FixedClock::starting_now());
        let app = Application::build_with_clock(settings, clock.clone()).await?;
        let url = app.local_url();
        let state = app.state();
        let server = tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url,
            state,
            clock,
            http,
            server: Some(server),
        })
    }

    /// The base URL it listens at, e.g. `http://127.0.0.1:43117`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The issuer identifier: the `iss` of its tokens. The same as [`TestIssuer::url`] unless
    /// `server.issuer` or `server.public_url` was set.
    pub fn issuer(&self) -> &str {
        self.state.issuer.as_str()
    }

    /// Where the public signing keys are, at [`TestIssuer::url`].
    pub fn jwks_url(&self) -> String {
        self.endpoint(paths::JWKS)
    }

    pub fn token_url(&self) -> String {
        self.endpoint(paths::TOKEN)
    }

    pub fn authorization_url(&self) -> String {
        self.endpoint(paths::AUTHORIZE)
    }

    pub fn introspection_url(&self) -> String {
        self.endpoint(paths::INTROSPECT)
    }

    /// The OpenID Connect discovery document.
    pub fn discovery_url(&self) -> String {
        self.endpoint(paths::OPENID_METADATA)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The provider's time. It starts at the current second and moves only when told
    /// (`issuer.clock().advance(Duration::from_secs(901))` expires a 900-second token).
    pub fn clock(&self) -> &FixedClock {
        &self.clock
    }

    /// The state the handlers share, to reach the stores directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Registers a client the way the admin API does (same fields, same validation).
    pub async fn add_client(&self, request: NewClient) -> Result<TestClient, TestIssuerError> {
        let signing = &self.state.settings.keys.algorithms;
        let db = self.state.db.as_ref();
        let created = create_client(db, request, signing, ACTOR, self.clock.now()).await?;
        Ok(TestClient {
            id: created.client.id.to_string(),
            secret: created.secret.map(|s| s.expose().to_owned()),
            auth_method: created.client.auth_method,
            redirect_uri: created
                .client
                .redirect_uris
                .first()
                .map(|uri| uri.as_str().to_owned()),
        })
    }

    /// Creates a user who signs in with `password` (checked against the password rules: at
    /// least 8 characters, not a common one), with the email address `username@example.com`,
    /// verified (or `username` itself when it is one).
    pub async fn add_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<TestUser, TestIssuerError> {
        let email = if username.contains('@') {
            username.to_owned()
        } else {
            format!("{username}@example.com")
        };
        let request = NewUser {
            username: username.to_owned(),
            email: Some(email),
            email_verified: true,
            ..NewUser::default()
        };
        self.add_user_with(request, password).await
    }

    /// Creates the user `request` describes (profile and claims) with `password`.
    pub async fn add_user_with(
        &self,
        request: NewUser,
        password: &str,
    ) -> Result<TestUser, TestIssuerError> {
        let state = &self.state;
        let password = Some(Password::new(password.to_owned()));
        let user = create_user(
            state.db.as_ref(),
            &state.passwords,
            request,
            password,
            ACTOR,
            self.clock.now(),
        )
        .await?;
        Ok(TestUser {
            id: user.id.to_string(),
            username: user.username.as_str().to_owned(),
        })
    }

    /// An access token signed by the real key ring for any subject, audience, scopes and
    /// claims, without a client or a sign-in; introspection accepts it like any other.
    pub fn mint(&self, request: MintRequest) -> Result<String, TestIssuerError> {
        let request = check_mint(request, self.state.settings.tokens.access_token_ttl_secs)?;
        tokens::mint_access_token(&self.state, request, self.clock.now())
            .map_err(|e| TestIssuerError::Mint(e.to_string()))
    }

    /// Stops the server: it closes its listener and ends its connections. Dropping the
    /// `TestIssuer` does the same without waiting.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            // Cancelled by the abort above: the server is gone once this returns.
            let _ = server.await;
        }
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The checks of `POST /testing/tokens`, reporting the first that fails.
fn check_mint(
    request: MintRequest,
    default_lifetime_secs: u32,
) -> Result<tokens::MintRequest, TestIssuerError> {
    let fail = |problem: String| Err(TestIssuerError::Mint(problem));
    let name_ok = |s: &str| (1..=255).contains(&s.chars().count());
    let client_id = request
        .client_id
        .unwrap_or_else(|| MINT_CLIENT_ID.to_owned());
    if !name_ok(&request.sub) || !name_ok(&client_id) || !request.aud.iter().all(|a| name_ok(a)) {
        return fail("sub, client_id and each aud have 1 to 255 characters".into());
    }
    let scope = match ScopeSet::parse_delimited(&request.scope) {
        Ok(scope) => scope,
        Err(problem) => return fail(format!("scope: {problem}")),
    };
    let lifetime_secs = request.expires_in.unwrap_or(default_lifetime_secs);
    if !(1..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&lifetime_secs) {
        return fail(format!(
            "expires_in: must be 1 to {MAX_ACCESS_TOKEN_TTL_SECS}"
        ));
    }
    let aud = if request.aud.is_empty() {
        OneOrMany::One(client_id.clone())
    } else {
        OneOrMany::from_vec(request.aud)
    };
    Ok(tokens::MintRequest {
        sub: request.sub,
        aud,
        client_id,
        scope,
        claims: request.claims,
        lifetime_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mint_request_takes_the_defaults_of_the_endpoint() {
        let request = check_mint(MintRequest::for_subject("alice"), 900).unwrap();
        assert_eq!(request.client_id, MINT_CLIENT_ID);
        assert_eq!(request.aud, OneOrMany::One(MINT_CLIENT_ID.into()));
        assert_eq!(request.lifetime_secs, 900);
        assert!(request.scope.is_empty());
    }

    #[test]
    fn a_bad_mint_request_is_refused() {
        let bad = [
            MintRequest::for_subject(""),
            MintRequest {
                scope: "a  b".into(),
                ..MintRequest::for_subject("alice")
            },
            MintRequest {
                expires_in: Some(0),
                ..MintRequest::for_subject("alice")
            },
        ];
        for request in bad {
            assert!(matches!(
                check_mint(request, 900),
                Err(TestIssuerError::Mint(_))
            ));
        }
    }
}
