//! One chromedriver process per test, and a headless Chromium session on it.

use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use futures_util::FutureExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Debian's `chromium-driver` and `chromium` packages install these.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether chromedriver is installed. Its absence skips the test with a notice, or fails it
/// under `CI=true` (`.ci/run` installs it).
pub fn available() -> bool {
    if Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{CHROMEDRIVER} is missing, but CI=true: the browser tests must run in CI");
    }
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        eprintln!("notice: skipping browser tests: {CHROMEDRIVER} is not installed");
    });
    false
}

/// A running chromedriver, killed when dropped (also when the test panics).
pub struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        // The guard exists before the wait, so a chromedriver that never listens is still killed.
        let mut driver = Self { child, port };
        driver.wait_until_listening().await;
        driver
    }

    /// Polls the port until chromedriver accepts connections: at most 100 attempts, 50 ms apart.
    async fn wait_until_listening(&mut self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("chromedriver's status") {
                panic!("chromedriver exited before listening: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "chromedriver is not listening on port {} after 5 s",
            self.port
        );
    }

    /// A new headless Chromium session whose profile lives in `profile`.
    pub async fn session(&self, profile: &Path) -> Client {
        let options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1024,768",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        let mut capabilities = Capabilities::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        // the console, for the checks that a page logs no error
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        // chromedriver speaks plain HTTP on loopback: no TLS connector needed.
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver opens a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now, for chromedriver's `--port`.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port()
}

/// chromedriver's console log of the page (`POST /session/{id}/se/log`, type `browser`): the
/// entries since the last call.
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// The console errors the browser logged since the last call. The browser's own request for
/// `/favicon.ico` (there is none) is left out: no page asks for it.
pub async fn console_errors(browser: &Client) -> Vec<String> {
    let entries = browser
        .issue_cmd(ConsoleLog)
        .await
        .expect("the console log");
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .filter_map(|entry| entry["message"].as_str().map(str::to_owned))
        .filter(|message| !message.contains("/favicon.ico"))
        .collect()
}

/// Runs `drive` in a new headless Chromium (with the artifacts directory for its screenshots);
/// on a panic, the page is screenshotted as `{name}-failure.png` before the panic goes on. The
/// browser is closed either way.
pub async fn in_browser<T>(name: &str, drive: impl AsyncFnOnce(&Client, &Path) -> T) -> T {
    let dir = tempfile::tempdir().expect("temporary directory");
    let artifacts = crate::login::artifacts_dir(dir.path());
    let driver = ChromeDriver::start().await;
    let browser = driver.session(&dir.path().join("profile")).await;
    let outcome = AssertUnwindSafe(drive(&browser, &artifacts))
        .catch_unwind()
        .await;
    if outcome.is_err() {
        let shot = artifacts.join(format!("{name}-failure.png"));
        crate::login::save_screenshot(&browser, &shot).await;
    }
    let _ = browser.close().await;
    outcome.unwrap_or_else(|panic| resume_unwind(panic))
}

/// The authorization URL of a code flow for `client_id` back to `redirect_uri`, with RFC 7636
/// appendix B's S256 challenge (its verifier is [`PKCE_VERIFIER`]) and `extra` parameters.
pub fn authorize_url(base: &str, client_id: &str, redirect_uri: &str, extra: &str) -> String {
    let redirect_uri: String =
        url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect();
    format!(
        "{base}/oauth2/authorize?response_type=code&client_id={client_id}\
         &redirect_uri={redirect_uri}&scope=openid\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}"
    )
}

/// The PKCE verifier of [`authorize_url`]'s challenge.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
