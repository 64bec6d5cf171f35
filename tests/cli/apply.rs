//! Declared `[[clients]]` and `[[users]]`: `gatehouse apply FILE [--dry-run]` and the same
//! declarations applied by `serve` at start.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::{gatehouse, run, serve, stderr_of};

const SECRET: &str = "billing-test-secret-0123456789abcdefghij";
const PASSWORD: &str = "a long passphrase for ann";

const DECLARATIONS: &str = r#"
[[clients]]
client_id = "billing"
name = "Billing"
scopes = ["invoices:read"]

[[clients]]
client_id = "web"
name = "Web"
public = true
redirect_uris = ["https://app.example.com/cb"]

[[users]]
username = "ann"
email = "ann@example.com"
display_name = "Ann"
password = "a long passphrase for ann"
claims = { department = "sales" }
"#;

/// With a fixed secret, which only test mode (the in-memory database) takes.
const FIXED_SECRET_DECLARATIONS: &str = r#"
[[clients]]
client_id = "billing"
name = "Billing"
scopes = ["invoices:read"]
client_secret = "billing-test-secret-0123456789abcdefghij"

[[clients]]
client_id = "web"
name = "Web"
public = true
redirect_uris = ["https://app.example.com/cb"]

[[users]]
username = "ann"
email = "ann@example.com"
display_name = "Ann"
password = "a long passphrase for ann"
claims = { department = "sales" }
"#;

/// `gatehouse ARGS` with cheap argon2 (these tests check declarations, not the hash's cost).
/// Not in test mode: that needs the in-memory database, so `apply` on the file takes the
/// declarations without a fixed secret.
fn cheap(dir: &Path, args: &[&str]) -> Output {
    run(gatehouse(dir)
        .args(args)
        .env("GATEHOUSE_PASSWORDS__MEMORY_KIB", "64")
        .env("GATEHOUSE_PASSWORDS__ITERATIONS", "1"))
}

#[test]
fn a_fixed_client_secret_is_refused_outside_test_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("declared.toml"), FIXED_SECRET_DECLARATIONS).unwrap();

    let output = run(gatehouse(dir.path()).args(["apply", "declared.toml"]));

    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(
            "clients[0] (client_id \"billing\"): client_secret: a fixed secret is for tests only"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET));
    let listed = run(gatehouse(dir.path()).args(["clients", "list", "--output", "json"]));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");
}

/// `gatehouse apply FILE [--dry-run]`: its standard output, after checking it succeeded.
fn apply(dir: &Path, file: &str, dry_run: bool) -> String {
    let mut args = vec!["apply", file];
    if dry_run {
        args.push("--dry-run");
    }
    let output = cheap(dir, &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn show_client(dir: &Path, id: &str) -> Value {
    let output = run(gatehouse(dir).args(["clients", "show", id, "--output", "json"]));
    assert!(output.status.success(), "{}", stderr_of(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn applying_twice_changes_nothing_the_second_time_and_dry_run_says_so_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("declared.toml"), DECLARATIONS).unwrap();

    let first = apply(dir.path(), "declared.toml", false);
    let dry_run = apply(dir.path(), "declared.toml", true);
    let second = apply(dir.path(), "declared.toml", false);

    assert_eq!(
        first,
        "create client billing\ncreate client web\ncreate user ann\n\
         applied: 3 created, 0 updated, 0 unchanged\n"
    );
    let unchanged = "unchanged client billing\nunchanged client web\nunchanged user ann\n";
    assert_eq!(
        dry_run,
        format!("{unchanged}dry run: 0 to create, 0 to update, 3 unchanged; nothing was changed\n")
    );
    assert_eq!(
        second,
        format!("{unchanged}applied: 0 created, 0 updated, 3 unchanged\n")
    );
    let listed = run(gatehouse(dir.path()).args(["clients", "list", "--output", "json"]));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "never duplicated");
}

#[test]
fn a_changed_field_is_listed_and_a_dry_run_leaves_it_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("declared.toml");
    std::fs::write(&file, DECLARATIONS).unwrap();
    apply(dir.path(), "declared.toml", false);
    let before = show_client(dir.path(), "billing");
    let changed = DECLARATIONS
        .replace(r#"name = "Billing""#, r#"name = "Billing service""#)
        .replace(r#"display_name = "Ann""#, r#"display_name = "Ann Example""#);
    std::fs::write(&file, changed).unwrap();

    let dry_run = apply(dir.path(), "declared.toml", true);
    let after_dry_run = show_client(dir.path(), "billing");
    let applied = apply(dir.path(), "declared.toml", false);
    let after = show_client(dir.path(), "billing");

    let expected = "update client billing: name\nunchanged client web\n\
                    update user ann: display_name\n";
    assert!(dry_run.starts_with(expected), "{dry_run}");
    assert!(
        dry_run.ends_with("1 unchanged; nothing was changed\n"),
        "{dry_run}"
    );
    assert_eq!(after_dry_run, before, "a dry run changes nothing");
    assert!(applied.starts_with(expected), "{applied}");
    assert_eq!(after["name"], "Billing service");
    let ann = run(gatehouse(dir.path()).args(["users", "show", "ann", "--output", "json"]));
    let ann: Value = serde_json::from_slice(&ann.stdout).unwrap();
    assert_eq!(ann["display_name"], "Ann Example");
    assert_eq!(ann["claims"]["department"], "sales");
}

#[test]
fn a_declared_require_mfa_is_read_from_the_file_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let declared = DECLARATIONS.replace("public = true", "public = true\nrequire_mfa = true");
    std::fs::write(dir.path().join("declared.toml"), declared).unwrap();

    apply(dir.path(), "declared.toml", false);

    assert_eq!(show_client(dir.path(), "web")["require_mfa"], true);
    assert_eq!(show_client(dir.path(), "billing")["require_mfa"], false);
}

#[test]
fn a_declared_password_is_stored_as_a_hash_that_verifies_and_no_secret_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("declared.toml");
    std::fs::write(&file, DECLARATIONS).unwrap();
    let first = cheap(dir.path(), &["apply", "declared.toml"]);
    // "unchanged" is only said after the stored hash verified the declared password.
    let again = apply(dir.path(), "declared.toml", true);
    std::fs::write(
        &file,
        DECLARATIONS.replace(PASSWORD, "another long passphrase"),
    )
    .unwrap();
    let new_password = cheap(dir.path(), &["apply", "declared.toml"]);

    assert!(again.contains("unchanged user ann"), "{again}");
    let new_password = String::from_utf8(new_password.stdout).unwrap();
    assert!(
        new_password.contains("update user ann: password\n"),
        "{new_password}"
    );
    let everything = format!(
        "{}{}{new_password}",
        String::from_utf8_lossy(&first.stdout),
        stderr_of(&first)
    );
    for secret in [SECRET, PASSWORD, "another long passphrase", "argon2"] {
        assert!(!everything.contains(secret), "printed {secret}");
    }
}

#[test]
fn an_invalid_file_exits_2_naming_the_object_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = DECLARATIONS.replace("https://app.example.com/cb", "ftp://app.example.com/cb");
    std::fs::write(dir.path().join("declared.toml"), bad).unwrap();

    let output = cheap(dir.path(), &["apply", "declared.toml"]);
    let listed = run(gatehouse(dir.path()).args(["clients", "list", "--output", "json"]));

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(
            "configuration error: clients[1] (client_id \"web\"): redirect_uris[0]: scheme `ftp` \
             is not allowed"
        ),
        "{stderr}"
    );
    assert_eq!(listed.stdout, b"[]\n");
}

#[test]
fn a_declared_client_id_spelled_as_a_uuid_stops_the_load_naming_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let user = uuid::Uuid::new_v4();
    let bad = DECLARATIONS.replace(r#"client_id = "web""#, &format!("client_id = \"{user}\""));
    std::fs::write(dir.path().join("declared.toml"), bad).unwrap();

    let output = cheap(dir.path(), &["apply", "declared.toml"]);
    let listed = run(gatehouse(dir.path()).args(["clients", "list", "--output", "json"]));

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!(
            "configuration error: clients[1] (client_id \"{user}\"): client_id: a client id may \
             not be a UUID"
        )),
        "{stderr}"
    );
    assert_eq!(listed.stdout, b"[]\n");
}

#[test]
fn an_invalid_declared_object_stops_serve_with_exit_2_and_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = DECLARATIONS.replace(r#"email = "ann@example.com""#, r#"email = "ann""#);
    std::fs::write(dir.path().join("gatehouse.toml"), bad).unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0"));

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "configuration error: users[0] (username \"ann\"): email: not an email address \
             (name@example.com)"
        ]
    );
}

#[test]
fn a_declared_client_whose_id_token_algorithm_is_not_signed_with_stops_serve_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = DECLARATIONS.replace(
        r#"name = "Web""#,
        "name = \"Web\"\nid_token_signed_response_alg = \"EdDSA\"",
    );
    std::fs::write(dir.path().join("gatehouse.toml"), bad).unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0"));

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(
            "configuration error: clients[1] (client_id \"web\"): id_token_signed_response_alg: \
             EdDSA is not an algorithm this server signs with"
        ),
        "{stderr}"
    );
}

#[test]
fn a_declaration_the_database_refuses_stops_serve_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("declared.toml"), DECLARATIONS).unwrap();
    apply(dir.path(), "declared.toml", false);
    // `web` exists as a public client: it cannot become one with a secret.
    let confidential = DECLARATIONS.replace("public = true\n", "");
    std::fs::write(dir.path().join("gatehouse.toml"), confidential).unwrap();

    let output = cheap(dir.path(), &["serve"]);

    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let line = stderr.lines().last().unwrap();
    assert_eq!(
        line,
        "configuration error: clients[1] (client_id \"web\"): token_endpoint_auth_method: \
         cannot change from none to client_secret_basic: register a new client instead"
    );
}

#[test]
fn a_declared_client_secret_works_at_the_token_endpoint_of_a_served_instance() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gatehouse.toml"), FIXED_SECRET_DECLARATIONS).unwrap();
    let server = serve(
        dir.path(),
        &[
            ("GATEHOUSE_PASSWORDS__MEMORY_KIB", "64"),
            ("GATEHOUSE_PASSWORDS__ITERATIONS", "1"),
            ("GATEHOUSE_DATABASE__URL", "sqlite::memory:"),
            ("GATEHOUSE_TESTING__ENABLED", "true"),
        ],
    );
    let url = format!("http://{}/oauth2/token", server.address);

    let (status, body) = post_token(&url, "billing", SECRET);
    let (wrong, _) = post_token(&url, "billing", &SECRET.replace('0', "1"));

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "invoices:read");
    assert_eq!(wrong, 401);
    assert_eq!(server.terminate(), Some(0));
}

/// A client_credentials request with HTTP Basic authentication: (status, JSON body).
fn post_token(url: &str, client_id: &str, secret: &str) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}
