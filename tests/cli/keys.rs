//! `gatehouse keys revoke` and `keys rotate --now --revoke-current` from the command line, on
//! SQLite and on PostgreSQL: a revoked key leaves the JWKS of every instance that starts (or
//! reloads) afterwards, what it signed is refused, and it never comes back.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::{Server, common, gatehouse, run, serve, stderr_of};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The environment that points the binary at the backend, or `None` when it is not available.
fn backend_env(postgres: bool) -> Option<Vec<(String, String)>> {
    if !postgres {
        return Some(Vec::new());
    }
    let server = common::postgres_url()?;
    let url = runtime().block_on(common::fresh_postgres_database(&server));
    Some(vec![
        ("GATEHOUSE_DATABASE__URL".into(), url),
        (
            "GATEHOUSE_KEYS__ENCRYPTION_KEY".into(),
            STANDARD.encode([7u8; 32]),
        ),
    ])
}

struct Cli<'a> {
    dir: &'a Path,
    env: Vec<(String, String)>,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> std::process::Output {
        run(gatehouse(self.dir)
            .args(args)
            .envs(self.env.iter().cloned()))
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn serve(&self) -> Server {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        serve(self.dir, &env)
    }
}

/// `POST path` on `server` with a form and HTTP Basic; the JSON answer.
fn post_form(server: &Server, path: &str, form: &[(&str, &str)], basic: (&str, &str)) -> Value {
    runtime().block_on(async {
        ::reqwest::Client::new()
            .post(format!("http://{}{path}", server.address))
            .basic_auth(basic.0, Some(basic.1))
            .form(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn token(server: &Server, basic: (&str, &str)) -> String {
    let body = post_form(
        server,
        "/oauth2/token",
        &[("grant_type", "client_credentials")],
        basic,
    );
    body["access_token"].as_str().unwrap().to_owned()
}

fn active(server: &Server, token: &str, basic: (&str, &str)) -> bool {
    post_form(server, "/oauth2/introspect", &[("token", token)], basic)["active"] == true
}

fn kid_of(token: &str) -> String {
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn revoke_and_rotate_with_revoke_current(postgres: bool) {
    let Some(env) = backend_env(postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        dir: dir.path(),
        env,
    };
    let migrate = cli.run(&["migrate"]);
    assert!(migrate.status.success(), "{}", stderr_of(&migrate));
    let created = cli.json(&[
        "clients",
        "create",
        "--name",
        "svc",
        "--grant-type",
        "client_credentials",
        "--output",
        "json",
    ]);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let basic = (id.as_str(), secret.as_str());
    let first = cli.serve();
    let old_token = token(&first, basic);
    let old_kid = kid_of(&old_token);
    assert!(active(&first, &old_token, basic));
    first.terminate();

    let revoked = cli.json(&["keys", "revoke", &old_kid, "--output", "json"]);
    let again = cli.run(&["keys", "revoke", &old_kid]);
    let unknown = cli.run(&["keys", "revoke", "no-such-kid"]);

    assert_eq!(revoked["kid"], old_kid.as_str());
    assert_eq!(revoked["alg"], "ES256");
    let successor = revoked["successor"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(revoked["successor"]["state"], "active");
    assert!(again.status.success(), "{}", stderr_of(&again));
    let again = String::from_utf8(again.stdout).unwrap();
    assert!(
        again.starts_with(&format!("revoked: {old_kid} (ES256)")),
        "{again}"
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr_of(&unknown).contains("no signing key no-such-kid"));
    let second = cli.serve();
    let (_, jwks) = second.get("/.well-known/jwks.json");
    assert!(!jwks.contains(&old_kid), "{jwks}");
    assert!(jwks.contains(&successor), "{jwks}");
    assert!(
        !active(&second, &old_token, basic),
        "its tokens are refused"
    );
    let new_token = token(&second, basic);
    assert_eq!(kid_of(&new_token), successor);
    assert!(active(&second, &new_token, basic));
    second.terminate();

    let without_now = cli.run(&["keys", "rotate", "--revoke-current"]);
    let incident = cli.json(&[
        "keys",
        "rotate",
        "--now",
        "--revoke-current",
        "--output",
        "json",
    ]);
    let listed = cli.json(&["keys", "list", "--output", "json"]);

    assert_eq!(
        without_now.status.code(),
        Some(2),
        "--revoke-current needs --now"
    );
    let mut revoked: Vec<&str> = incident["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kid"].as_str().unwrap())
        .collect();
    assert_eq!(revoked.len(), 2, "{incident}");
    assert!(revoked.contains(&successor.as_str()));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "only the new keys: {listed:?}");
    assert!(listed.iter().all(|k| k["state"] == "active"));
    revoked.push(&old_kid);
    assert!(
        listed
            .iter()
            .all(|k| !revoked.contains(&k["kid"].as_str().unwrap()))
    );
    let third = cli.serve();
    assert!(!active(&third, &new_token, basic));
    assert!(active(&third, &token(&third, basic), basic));
}

#[test]
fn keys_revoke_and_the_incident_procedure_work_from_the_command_line_on_sqlite() {
    revoke_and_rotate_with_revoke_current(false);
}

#[test]
fn keys_revoke_and_the_incident_procedure_work_from_the_command_line_on_postgres() {
    revoke_and_rotate_with_revoke_current(true);
}
