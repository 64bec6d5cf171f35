//! `spawn_app`: a real Gatehouse on port 0 with its own database, spoken to over HTTP.

use std::sync::Arc;

use actix_web::web;
use gatehouse::admin::clients::{NewClient, create_client};
use gatehouse::admin::users::{NewUser, create_user};
use gatehouse::clock::{Clock, FixedClock};
use gatehouse::config::{BindAddress, DatabaseUrl, EncryptionKey, EphemeralUrl, Settings};
use gatehouse::crypto::Password;
use gatehouse::crypto::random_bytes;
use gatehouse::domain::User;
use gatehouse::startup::Application;
use gatehouse::state::AppState;
use serde_json::Value;

use crate::common;

/// The durable and ephemeral backends a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-memory store: the embedded default.
    Embedded,
    /// PostgreSQL + Redis: production.
    Shared,
}

pub struct TestApp {
    pub address: String,
    /// The management listener's base URL, when `server.management_bind` is set.
    pub management_address: Option<String>,
    /// The issuer the instance announces, e.g. `http://127.0.0.1:PORT`.
    pub issuer: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    /// The instance's time; tests move it forward instead of sleeping.
    pub clock: Arc<FixedClock>,
    pub state: web::Data<AppState>,
    _dir: Arc<tempfile::TempDir>,
}

/// A client just registered, with its secret when it has one.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub id: String,
    pub secret: Option<String>,
}

impl RegisteredClient {
    /// `(id, secret)` for HTTP Basic.
    pub fn basic(&self) -> Option<(&str, &str)> {
        Some((
            &self.id,
            self.secret.as_deref().expect("a client with a secret"),
        ))
    }
}

/// A confidential `client_secret_basic` client with two scopes and two audiences.
pub fn confidential_client() -> NewClient {
    NewClient {
        name: "billing".into(),
        scopes: vec!["orders:read".into(), "orders:write".into()],
        audiences: vec![
            "https://api.example.com".into(),
            "https://reports.example.com".into(),
        ],
        ..NewClient::default()
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request failed")
    }

    /// The instance's "now", in unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Registers a client the way the admin API does.
    pub async fn register_client(&self, request: NewClient) -> RegisteredClient {
        let signing = &self.state.settings.keys.algorithms;
        let db = self.state.db.as_ref();
        let created = create_client(db, request, signing, "test", self.clock.now())
            .await
            .expect("the client registers");
        RegisteredClient {
            id: created.client.id.to_string(),
            secret: created.secret.map(|s| s.expose().to_owned()),
        }
    }

    /// Creates a user with a password, the way the admin API does.
    pub async fn create_user(&self, username: &str, password: &str) -> User {
        let request = NewUser {
            username: username.into(),
            email: Some(format!("{username}@example.com")),
            email_verified: true,
            display_name: Some(format!("{username} Example")),
            ..NewUser::default()
        };
        create_user(
            self.state.db.as_ref(),
            &self.state.passwords,
            request,
            Some(Password::new(password.into())),
            "test",
            self.clock.now(),
        )
        .await
        .expect("the user is created")
    }

    /// POSTs `form` as `application/x-www-form-urlencoded`, with HTTP Basic when given.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.expect("request failed")
    }

    pub async fn post_token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        self.post_form("/oauth2/token", form, basic).await
    }

    pub async fn post_introspect(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        self.post_form("/oauth2/introspect", form, basic).await
    }

    pub async fn post_revoke(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        self.post_form("/oauth2/revoke", form, basic).await
    }

    /// A client_credentials access token for a `client_secret_basic` client.
    pub async fn token_for(&self, client: &RegisteredClient) -> String {
        let response = self
            .post_token(&[("grant_type", "client_credentials")], client.basic())
            .await;
        assert_eq!(response.status(), 200, "the token request succeeds");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// What introspection says about `token`, asked by `caller` over HTTP Basic.
    pub async fn introspect(&self, token: &str, caller: &RegisteredClient) -> Value {
        let response = self
            .post_introspect(&[("token", token)], caller.basic())
            .await;
        assert_eq!(response.status(), 200, "introspection answers");
        response.json().await.unwrap()
    }

    pub async fn jwks(&self) -> Value {
        self.get("/.well-known/jwks.json")
            .await
            .json()
            .await
            .unwrap()
    }

    /// Another instance behind the same issuer (as behind one load balancer), on the same
    /// database, Redis prefix and keys, sharing this one's clock.
    pub async fn spawn_instance(&self) -> TestApp {
        let issuer = self.issuer.parse().expect("the issuer parses");
        self.spawn_sibling(|s| s.server.issuer = Some(issuer)).await
    }

    /// Waits until this instance has read every change recorded in the database so far (by
    /// another instance, or by a use case called directly, as the CLI does); within a second.
    pub async fn read_changes(&self) {
        let seq = self
            .state
            .db
            .last_change_seq()
            .await
            .expect("the feed reads");
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            self.state.current.caught_up_to(seq),
        )
        .await
        .expect("the change feed was read within a second");
    }

    /// Another instance on the same database, Redis prefix and keys, sharing this one's clock.
    pub async fn spawn_sibling(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        configure(&mut settings);
        start(settings, Arc::clone(&self.clock), Arc::clone(&self._dir)).await
    }
}

/// Asserts an RFC 6749 §5.2 error response: status, `error` code, and the no-cache headers.
pub async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_no_store(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

/// RFC 6749 §5.1: `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn assert_no_store(response: &reqwest::Response) {
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

/// Settings for a test on `backend`, or `None` when that backend is not available here.
pub async fn test_settings(backend: Backend, dir: &tempfile::TempDir) -> Option<Settings> {
    let mut settings = Settings::default();
    settings.server.bind = BindAddress::from_socket_addr(([127, 0, 0, 1], 0).into());
    settings.keys.encryption_key = Some(EncryptionKey::from_bytes(random_bytes::<32>()));
    settings.keys.encryption_key_file = dir.path().join("keys/encryption.key");
    // Cheap argon2 parameters: the tests check behaviour, the benchmark checks cost.
    settings.passwords.memory_kib = 64;
    settings.passwords.iterations = 1;
    match backend {
        Backend::Embedded => {
            let file = dir.path().join("gatehouse.db");
            settings.database.url = DatabaseUrl::Sqlite(format!("sqlite://{}", file.display()));
        }
        Backend::Shared => {
            let server = common::postgres_url()?;
            let redis = common::redis_url()?;
            let url = common::fresh_postgres_database(&server).await;
            settings.database.url = DatabaseUrl::Postgres(url);
            settings.ephemeral.url = EphemeralUrl::Redis(redis);
            settings.ephemeral.key_prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
        }
    }
    Some(settings)
}

/// Starts the service on `backend`, with `configure` applied to its settings.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(backend, &dir).await?;
    configure(&mut settings);
    let clock = Arc::new(FixedClock::starting_now());
    Some(start(settings, clock, Arc::new(dir)).await)
}

async fn start(settings: Settings, clock: Arc<FixedClock>, dir: Arc<tempfile::TempDir>) -> TestApp {
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let management_address = app.management_address().map(|a| format!("http://{a}"));
    let issuer = app.issuer().to_owned();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    TestApp {
        address,
        management_address,
        issuer,
        client,
        settings,
        clock,
        state,
        _dir: dir,
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Runs an async test body once per backend: `name_on_embedded` and `name_on_shared`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod on_embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Embedded).await;
                }
            )*
        }
        mod on_shared {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Shared).await;
                }
            )*
        }
    };
}
