//! `spawn_app`: a real Gatehouse on port 0 with its own database, spoken to over HTTP.

use std::sync::Arc;

use gatehouse::clock::FixedClock;
use gatehouse::config::{BindAddress, DatabaseUrl, EncryptionKey, EphemeralUrl, Settings};
use gatehouse::crypto::random_bytes;
use gatehouse::startup::Application;

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
    pub client: reqwest::Client,
    pub settings: Settings,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request failed")
    }
}

/// Settings for a test on `backend`, or `None` when that backend is not available here.
pub async fn test_settings(backend: Backend, dir: &tempfile::TempDir) -> Option<Settings> {
    let mut settings = Settings::default();
    settings.server.bind = BindAddress::from_socket_addr(([127, 0, 0, 1], 0).into());
    settings.keys.encryption_key = Some(EncryptionKey::from_bytes(random_bytes::<32>()));
    settings.keys.encryption_key_file = dir.path().join("keys/encryption.key");
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
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    Some(TestApp {
        address,
        client,
        settings,
        _dir: dir,
    })
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
