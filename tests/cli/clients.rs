//! `gatehouse clients …` against the embedded database, in the form scripts depend on.

use serde_json::Value;

use crate::{gatehouse, run, stderr_of};

fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr_of(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn create_prints_the_id_and_the_secret_once_and_show_never_does() {
    let dir = tempfile::tempdir().unwrap();

    let created = json_of(&run(gatehouse(dir.path()).args([
        "clients",
        "create",
        "--name",
        "Billing",
        "--id",
        "billing",
        "--grant-type",
        "client_credentials",
        "--scope",
        "invoices:read",
        "--scope",
        "invoices:write",
        "--audience",
        "https://api.example.com",
        "--auth-method",
        "client_secret_post",
        "--access-token-ttl",
        "600",
        "--output",
        "json",
    ])));
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["clients", "show", "billing", "--output", "json"])
    ));
    let listed = json_of(&run(
        gatehouse(dir.path()).args(["clients", "list", "--output", "json"])
    ));

    assert_eq!(created["client_id"], "billing");
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256 bits, URL-safe base64");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["invoices:read", "invoices:write"])
    );
    assert_eq!(created["access_token_ttl_secs"], 600);
    assert!(shown.get("client_secret").is_none());
    assert!(!shown.to_string().contains(secret));
    assert_eq!(shown["name"], "Billing");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["client_id"], "billing");
}

#[test]
fn text_output_prints_client_id_and_secret_lines() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args(["clients", "create", "--name", "svc"]));

    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("client_id: "), "{stdout}");
    assert!(lines[1].starts_with("client_secret: "), "{stdout}");
}

#[test]
fn a_public_client_gets_no_secret() {
    let dir = tempfile::tempdir().unwrap();

    let created = json_of(&run(gatehouse(dir.path()).args([
        "clients",
        "create",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--output",
        "json",
    ])));

    assert_eq!(created["client_type"], "public");
    assert_eq!(created["token_endpoint_auth_method"], "none");
    assert!(created["client_secret"].is_null());
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
}

#[test]
fn invalid_input_names_every_field_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args([
        "clients",
        "create",
        "--name",
        "bad",
        "--grant-type",
        "password",
        "--redirect-uri",
        "http://evil.example.com/cb",
        "--scope",
        "has\"quote",
    ]));
    let listed = json_of(&run(
        gatehouse(dir.path()).args(["clients", "list", "--output", "json"])
    ));

    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    for field in ["grant_types[0]", "redirect_uris[0]", "scopes[0]"] {
        assert!(stderr.contains(field), "names {field}: {stderr}");
    }
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn an_id_token_algorithm_outside_keys_algorithms_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let create = |alg: &str| {
        run(gatehouse(dir.path()).args([
            "clients",
            "create",
            "--name",
            "web",
            "--id-token-alg",
            alg,
            "--output",
            "json",
        ]))
    };

    let refused = create("EdDSA");
    let listed = json_of(&run(
        gatehouse(dir.path()).args(["clients", "list", "--output", "json"])
    ));
    let accepted = create("ES256");

    assert_eq!(refused.status.code(), Some(1));
    let stderr = stderr_of(&refused);
    assert!(stderr.contains("id_token_signed_response_alg"), "{stderr}");
    assert!(stderr.contains("keys.algorithms"), "{stderr}");
    assert_eq!(listed, serde_json::json!([]));
    assert!(accepted.status.success(), "{}", stderr_of(&accepted));
    assert_eq!(json_of(&accepted)["id_token_signed_response_alg"], "ES256");
}

#[test]
fn an_id_spelled_as_a_uuid_is_refused_naming_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let user = uuid::Uuid::new_v4();

    for spelling in [user.to_string(), user.simple().to_string().to_uppercase()] {
        let output =
            run(gatehouse(dir.path())
                .args(["clients", "create", "--name", "svc", "--id", &spelling]));

        assert_eq!(output.status.code(), Some(1));
        let stderr = stderr_of(&output);
        assert!(stderr.contains("client_id"), "{stderr}");
        assert!(stderr.contains("UUID"), "{stderr}");
    }
    let listed = json_of(&run(
        gatehouse(dir.path()).args(["clients", "list", "--output", "json"])
    ));
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn a_duplicate_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let create = |name: &str| {
        run(gatehouse(dir.path()).args(["clients", "create", "--name", name, "--id", "same"]))
    };
    assert!(create("first").status.success());

    let second = create("second");

    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr_of(&second).contains("conflict"),
        "{}",
        stderr_of(&second)
    );
}

#[test]
fn rotate_secret_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_of(&run(gatehouse(dir.path()).args([
        "clients", "create", "--name", "svc", "--id", "svc", "--output", "json",
    ])));

    let rotated = json_of(&run(gatehouse(dir.path()).args([
        "clients",
        "rotate-secret",
        "svc",
        "--overlap",
        "3600",
        "--output",
        "json",
    ])));
    let deleted = run(gatehouse(dir.path()).args(["clients", "delete", "svc"]));
    let missing = run(gatehouse(dir.path()).args(["clients", "show", "svc"]));

    assert_ne!(rotated["client_secret"], created["client_secret"]);
    assert!(rotated["previous_secrets_expire_at"].is_string());
    assert!(deleted.status.success(), "{}", stderr_of(&deleted));
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr_of(&missing).contains("not found"));
}

#[test]
fn disable_and_enable_a_client() {
    let dir = tempfile::tempdir().unwrap();
    json_of(&run(gatehouse(dir.path()).args([
        "clients", "create", "--name", "svc", "--id", "svc", "--output", "json",
    ])));

    let disabled = run(gatehouse(dir.path()).args(["clients", "disable", "svc"]));
    assert!(disabled.status.success(), "{}", stderr_of(&disabled));
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["clients", "show", "svc", "--output", "json"])
    ));
    assert_eq!(shown["disabled"], true);

    let enabled = run(gatehouse(dir.path()).args(["clients", "enable", "svc"]));
    assert!(enabled.status.success(), "{}", stderr_of(&enabled));
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["clients", "show", "svc", "--output", "json"])
    ));
    assert_eq!(shown["disabled"], false);
}

#[test]
fn require_mfa_is_stored_and_shown_in_both_outputs() {
    let dir = tempfile::tempdir().unwrap();

    let created = json_of(&run(gatehouse(dir.path()).args([
        "clients",
        "create",
        "--name",
        "Payroll",
        "--id",
        "payroll",
        "--require-mfa",
        "--output",
        "json",
    ])));
    let other = json_of(&run(gatehouse(dir.path()).args([
        "clients", "create", "--name", "svc", "--id", "svc", "--output", "json",
    ])));
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["clients", "show", "payroll", "--output", "json"])
    ));
    let text = run(gatehouse(dir.path()).args(["clients", "show", "payroll"]));

    assert_eq!(created["require_mfa"], true);
    assert_eq!(other["require_mfa"], false, "off unless asked for");
    assert_eq!(shown["require_mfa"], true, "read back from the database");
    assert!(text.status.success(), "{}", stderr_of(&text));
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("require_mfa:") && l.trim_end().ends_with("true")),
        "{stdout}"
    );
}
