//! `serve --ephemeral` as a test harness uses it: the base URL on the first line of standard
//! output, a working provider at it, and nothing left on disk. Test mode's refusals.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

use crate::{gatehouse, run, stderr_of};

/// A running `gatehouse serve ...` and the URL it printed first.
struct Announced {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl Announced {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        // Drain the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        assert!(url.ends_with('\n'), "a whole first line: {url:?}");
        Self {
            child,
            stdout,
            url: url.trim_end().to_owned(),
        }
    }

    /// Sends SIGTERM; returns the exit code and whatever else went to standard output.
    fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (self.child.wait().unwrap().code(), rest)
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn ephemeral_serve_announces_its_url_serves_a_full_flow_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        Announced::start(gatehouse(dir.path()).args(["serve", "--ephemeral", "--port", "0"]));
    let url = server.url.clone();

    let outcome = block_on(async {
        let http = reqwest::Client::new();
        let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
        // Test mode: an admin token minted for the harness registers a client through /v1.
        let admin: Value = http
            .post(format!("{url}/testing/tokens"))
            .json(&json!({"sub": "harness", "scope": "gatehouse:admin"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let created: Value = http
            .post(format!("{url}/v1/clients"))
            .bearer_auth(admin["access_token"].as_str().unwrap())
            .json(&json!({"name": "orders", "scopes": ["orders:read"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (id, secret) = (
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        );
        let token: Value = http
            .post(format!("{url}/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let minted: Value = http
            .post(format!("{url}/testing/tokens"))
            .json(&json!({"sub": "alice", "aud": "orders-api", "claims": {"tenant": "acme"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let introspected: Value = http
            .post(format!("{url}/oauth2/introspect"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", minted["access_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwks: JwkSet = http
            .get(format!("{url}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (ready.status().as_u16(), token, minted, introspected, jwks)
    });
    let (ready, token, minted, introspected, jwks) = outcome;
    let (exit, rest_of_stdout) = server.terminate();

    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the first line is the base URL: {url}"));
    assert_ne!(port, 0);
    assert_eq!(ready, 200);
    assert_eq!(token["token_type"], "Bearer", "{token}");
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["sub"], "alice");
    assert_eq!(introspected["tenant"], "acme");
    let minted = minted["access_token"].as_str().unwrap();
    let header = decode_header(minted).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("published");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["orders-api"]);
    validation.set_issuer(&[url.as_str()]);
    let claims = decode::<Value>(minted, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the minted token verifies against the published keys")
        .claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(jwks.keys.len(), 2, "ES256 and RS256");
    assert_eq!(exit, Some(0), "SIGTERM ends with exit status 0");
    assert_eq!(rest_of_stdout, "", "logs go to standard error");
    assert_eq!(entries(dir.path()), Vec::<String>::new(), "nothing written");
}

#[test]
fn port_zero_announces_the_bound_url_without_ephemeral_and_test_mode_stays_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Announced::start(
        gatehouse(dir.path())
            .arg("serve")
            .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0"),
    );

    let (ready, mint) = block_on(async {
        let http = reqwest::Client::new();
        let ready = http.get(format!("{}/readyz", server.url)).send().await;
        let mint = http
            .post(format!("{}/testing/tokens", server.url))
            .json(&json!({"sub": "a"}))
            .send()
            .await;
        (ready.unwrap().status(), mint.unwrap().status())
    });
    let (exit, _) = server.terminate();

    assert_eq!(ready, 200);
    assert_eq!(mint, 404);
    assert_eq!(exit, Some(0));
}

fn assert_config_error(output: &std::process::Output, key: &str) {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "exactly one line: {stderr}");
    assert!(stderr.starts_with("configuration error: "), "{stderr}");
    assert!(stderr.contains(key), "names {key}: {stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn testing_enabled_with_postgres_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gatehouse.toml"),
        "[database]\nurl = \"postgres://db.invalid/gatehouse\"\n[testing]\nenabled = true\n",
    )
    .unwrap();

    let output = run(gatehouse(dir.path()).arg("serve"));

    assert_config_error(&output, "testing.enabled");
}

#[test]
fn testing_enabled_on_the_sqlite_file_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_TESTING__ENABLED", "true"));

    assert_config_error(&output, "testing.enabled");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn ephemeral_with_a_postgres_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .args(["serve", "--ephemeral"])
        .env("GATEHOUSE_DATABASE__URL", "postgres://db.invalid/gatehouse"));

    assert_config_error(&output, "database.url");
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn a_public_url_with_a_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SERVER__PUBLIC_URL", "http://gatehouse:8080/?a=b"));

    assert_config_error(&output, "server.public_url");
}
