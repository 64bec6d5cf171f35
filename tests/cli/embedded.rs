//! The embedded default from a fresh directory: no config file, nothing installed.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use crate::{gatehouse, run, serve, stderr_of};

#[test]
fn serve_creates_the_database_and_key_file_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();

    let server = serve(dir.path(), &[]);
    let (status, body) = server.get("/readyz");
    let (_, jwks) = server.get("/.well-known/jwks.json");
    let exit = server.terminate();

    assert_eq!(status, 200, "{body}");
    assert_eq!(exit, Some(0), "SIGTERM ends with exit status 0");
    assert!(dir.path().join("data/gatehouse.db").is_file());
    let key_file = dir.path().join("keys/encryption.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let jwks: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn a_restart_reuses_the_keys_and_a_lost_key_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), &[]);
    let (_, jwks_before) = first.get("/.well-known/jwks.json");
    first.terminate();

    let second = serve(dir.path(), &[]);
    let (_, jwks_after) = second.get("/.well-known/jwks.json");
    second.terminate();
    std::fs::remove_file(dir.path().join("keys/encryption.key")).unwrap();
    let without_key = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0"));

    assert_eq!(jwks_before, jwks_after);
    assert_eq!(without_key.status.code(), Some(1));
    assert!(
        stderr_of(&without_key).contains("keys/encryption.key is missing"),
        "{}",
        stderr_of(&without_key)
    );
    assert!(
        !dir.path().join("keys/encryption.key").exists(),
        "no new key was made"
    );
}

#[test]
fn a_wrong_encryption_key_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let right = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let wrong = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    serve(dir.path(), &[("GATEHOUSE_KEYS__ENCRYPTION_KEY", right)]).terminate();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0")
        .env("GATEHOUSE_KEYS__ENCRYPTION_KEY", wrong));

    assert_eq!(output.status.code(), Some(1));
    assert!(stderr_of(&output).contains("does not open with the configured key-encryption key"));
}

#[test]
fn keys_list_and_rotate_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = run(gatehouse(dir.path()).arg("migrate"));
    assert!(migrate.status.success(), "{}", stderr_of(&migrate));
    serve(dir.path(), &[]).terminate();

    let rotate =
        run(gatehouse(dir.path()).args(["keys", "rotate", "--alg", "ES256", "--output", "json"]));
    let list = run(gatehouse(dir.path()).args(["keys", "list", "--output", "json"]));
    let again = run(gatehouse(dir.path()).args(["keys", "rotate", "--alg", "ES256"]));
    let now = run(gatehouse(dir.path()).args(["keys", "rotate", "--alg", "ES256", "--now"]));
    let table = run(gatehouse(dir.path()).args(["keys", "list"]));

    assert!(rotate.status.success(), "{}", stderr_of(&rotate));
    let rotated: Value = serde_json::from_slice(&rotate.stdout).unwrap();
    assert_eq!(rotated[0]["alg"], "ES256");
    assert_eq!(rotated[0]["state"], "next");
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["alg"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 3);
    assert!(states.contains(&("ES256", "next")) && states.contains(&("ES256", "active")));
    assert_eq!(
        again.status.code(),
        Some(1),
        "a successor is already staged"
    );
    assert!(stderr_of(&again).contains("already staged"));
    assert!(now.status.success(), "{}", stderr_of(&now));
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("KID"), "{table}");
    assert_eq!(table.matches(" retired ").count(), 1, "{table}");
}

#[test]
fn healthcheck_reports_a_live_and_a_dead_instance() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let url = format!("http://{}/healthz", server.address);

    let alive = run(gatehouse(dir.path()).args(["healthcheck", "--url", &url]));
    server.terminate();
    let dead = run(gatehouse(dir.path()).args(["healthcheck", "--url", &url]));

    assert_eq!(alive.status.code(), Some(0), "{}", stderr_of(&alive));
    assert_eq!(dead.status.code(), Some(1));
}
