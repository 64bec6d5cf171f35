//! `gatehouse users …` against the embedded database: passwords only ever from standard input.

use std::io::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::{gatehouse, run, stderr_of};

/// `gatehouse ARGS` with `stdin` written to its standard input.
fn run_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = gatehouse(dir)
        .args(args)
        // cheap argon2: this checks the commands, not the cost
        .env("GATEHOUSE_PASSWORDS__MEMORY_KIB", "64")
        .env("GATEHOUSE_PASSWORDS__ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", stderr_of(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

const CREATE_ANN: [&str; 10] = [
    "users",
    "create",
    "--username",
    "Ann",
    "--email",
    "ann@example.com",
    "--name",
    "Ann Example",
    "--password-stdin",
    "--output",
];

#[test]
fn create_reads_the_password_from_stdin_and_never_prints_a_hash() {
    let dir = tempfile::tempdir().unwrap();

    let output = run_with_stdin(
        dir.path(),
        &[&CREATE_ANN[..], &["json"]].concat(),
        "a long passphrase\n",
    );
    let created = json_of(&output);

    assert_eq!(
        created["username"], "ann",
        "usernames are stored lower-cased"
    );
    assert_eq!(created["email"], "ann@example.com");
    assert_eq!(created["display_name"], "Ann Example");
    assert!(created["id"].as_str().unwrap().len() == 36);
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr_of(&output)
    );
    assert!(!everything.contains("argon2") && !everything.contains("passphrase"));

    let shown = json_of(&run(
        gatehouse(dir.path()).args(["users", "show", "ann", "--output", "json"])
    ));
    assert_eq!(shown, created);
    let listed = json_of(&run(
        gatehouse(dir.path()).args(["users", "list", "--output", "json"])
    ));
    assert_eq!(listed, serde_json::json!([created]));
}

#[test]
fn a_common_or_short_password_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();

    for weak in ["password1\n", "short\n"] {
        let output = run_with_stdin(dir.path(), &[&CREATE_ANN[..], &["json"]].concat(), weak);
        assert!(!output.status.success());
        assert!(
            stderr_of(&output).contains("password"),
            "{}",
            stderr_of(&output)
        );
    }

    let listed = json_of(&run(
        gatehouse(dir.path()).args(["users", "list", "--output", "json"])
    ));
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn a_taken_username_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let args = [&CREATE_ANN[..], &["json"]].concat();
    json_of(&run_with_stdin(dir.path(), &args, "a long passphrase\n"));

    let again = run_with_stdin(dir.path(), &args, "another long passphrase\n");

    assert!(!again.status.success());
    assert!(
        stderr_of(&again).contains("username is taken"),
        "{}",
        stderr_of(&again)
    );
}

#[test]
fn set_password_takes_stdin_and_delete_removes_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_of(&run_with_stdin(
        dir.path(),
        &[&CREATE_ANN[..], &["json"]].concat(),
        "a long passphrase\n",
    ));
    let id = created["id"].as_str().unwrap();

    let set = run_with_stdin(
        dir.path(),
        &["users", "set-password", id, "--password-stdin"],
        "a brand new passphrase\n",
    );
    assert!(set.status.success(), "{}", stderr_of(&set));
    let weak = run_with_stdin(
        dir.path(),
        &["users", "set-password", "ann", "--password-stdin"],
        "qwertyuiop\n",
    );
    assert!(!weak.status.success(), "a common password is refused");

    let deleted = run(gatehouse(dir.path()).args(["users", "delete", "ann"]));
    assert!(deleted.status.success(), "{}", stderr_of(&deleted));
    let shown = run(gatehouse(dir.path()).args(["users", "show", id]));
    assert!(!shown.status.success());
}

#[test]
fn set_password_refuses_a_password_argument() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args([
        "users",
        "set-password",
        "ann",
        "--password",
        "secret123",
    ]));

    assert!(!output.status.success());
    assert!(!stderr_of(&output).contains("secret123"));
}

/// The cut-offs the change feed holds for `subject` in the embedded database of `dir`.
fn cut_offs(dir: &Path, kind: &str, subject: &str) -> i64 {
    let url = format!("sqlite://{}", dir.join("data/gatehouse.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM changes WHERE kind = ? AND subject = ?")
            .bind(kind)
            .bind(subject)
            .fetch_one(&pool)
            .await
            .unwrap()
    })
}

#[test]
fn sign_out_disable_and_enable_end_what_a_person_holds_on_every_instance() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_of(&run_with_stdin(
        dir.path(),
        &[&CREATE_ANN[..], &["json"]].concat(),
        "a long passphrase\n",
    ));
    let id = created["id"].as_str().unwrap().to_owned();

    let signed_out = run(gatehouse(dir.path()).args(["users", "sign-out", "ann"]));
    assert!(signed_out.status.success(), "{}", stderr_of(&signed_out));
    assert!(stderr_of(&signed_out).contains("signed out ann"));
    // What every running instance follows: a cut-off of the person in the database.
    assert_eq!(cut_offs(dir.path(), "user", &id), 1);

    let disabled = run(gatehouse(dir.path()).args(["users", "disable", "ann"]));
    assert!(disabled.status.success(), "{}", stderr_of(&disabled));
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["users", "show", "ann", "--output", "json"])
    ));
    assert_eq!(shown["disabled"], true);
    assert_eq!(cut_offs(dir.path(), "user", &id), 2);

    let enabled = run(gatehouse(dir.path()).args(["users", "enable", "ann"]));
    assert!(enabled.status.success(), "{}", stderr_of(&enabled));
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["users", "show", "ann", "--output", "json"])
    ));
    assert_eq!(shown["disabled"], false);

    let unknown = run(gatehouse(dir.path()).args(["users", "sign-out", "nobody"]));
    assert!(!unknown.status.success());
}

/// Gives `user_id` a confirmed authenticator and ten recovery codes in the embedded database of
/// `dir`, through the store the account page writes with. The sealed secret is only bytes here:
/// listing and resetting never open it.
fn enrol_in_database(dir: &Path, user_id: &str) {
    use gatehouse::store::{FactorStore as _, SqliteStore};
    let url = format!("sqlite://{}", dir.join("data/gatehouse.db").display());
    let user_id = uuid::Uuid::parse_str(user_id).unwrap();
    let now = time::OffsetDateTime::now_utc();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = SqliteStore::connect(&url, 1, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        store.put_totp_factor(user_id, &[7; 48], now).await.unwrap();
        assert!(store.confirm_totp_factor(user_id, 1, now).await.unwrap());
        let digests: Vec<[u8; 32]> = (0..10u8).map(|i| [i; 32]).collect();
        store
            .replace_recovery_codes(user_id, &digests, now)
            .await
            .unwrap();
    });
}

/// The audit events with `action` in the embedded database of `dir`, as (actor, target id).
fn audit_events(dir: &Path, action: &str) -> Vec<(String, String)> {
    let url = format!("sqlite://{}", dir.join("data/gatehouse.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_as::<_, (String, String)>(
            "SELECT actor, target_id FROM audit_events WHERE action = ?",
        )
        .bind(action)
        .fetch_all(&pool)
        .await
        .unwrap()
    })
}

fn stdout_of(output: &Output) -> String {
    assert!(output.status.success(), "{}", stderr_of(output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn factors_are_listed_and_a_reset_removes_them_and_signs_the_person_out() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_of(&run_with_stdin(
        dir.path(),
        &[&CREATE_ANN[..], &["json"]].concat(),
        "a long passphrase\n",
    ));
    let id = created["id"].as_str().unwrap().to_owned();
    let factors = |output: &str| {
        run(gatehouse(dir.path()).args(["users", "factors", "ann", "--output", output]))
    };

    assert_eq!(
        stdout_of(&factors("text")),
        "totp: none\nrecovery codes left: 0\n"
    );
    assert_eq!(
        json_of(&factors("json")),
        serde_json::json!({"totp": null, "recovery_codes_left": 0, "passkeys": []})
    );
    let nothing = run(gatehouse(dir.path()).args(["users", "reset-factors", "ann"]));
    assert!(nothing.status.success(), "{}", stderr_of(&nothing));
    assert!(
        stderr_of(&nothing).contains("no second factors to remove for ann"),
        "{}",
        stderr_of(&nothing)
    );
    assert_eq!(
        cut_offs(dir.path(), "user", &id),
        1,
        "signed out all the same"
    );

    enrol_in_database(dir.path(), &id);
    let text = stdout_of(&factors("text"));
    assert!(text.starts_with("totp: confirmed since 20"), "{text}");
    assert!(text.ends_with("\nrecovery codes left: 10\n"), "{text}");
    let shown = json_of(&factors("json"));
    assert_eq!(shown["totp"]["confirmed"], true, "{shown}");
    assert!(shown["totp"]["confirmed_at"].is_string(), "{shown}");
    assert_eq!(shown["recovery_codes_left"], 10, "{shown}");

    let reset = run(gatehouse(dir.path()).args(["users", "reset-factors", &id]));

    assert!(reset.status.success(), "{}", stderr_of(&reset));
    assert!(
        stderr_of(&reset).contains("removed the second factors of ann"),
        "{}",
        stderr_of(&reset)
    );
    assert_eq!(
        json_of(&factors("json")),
        serde_json::json!({"totp": null, "recovery_codes_left": 0, "passkeys": []})
    );
    assert_eq!(cut_offs(dir.path(), "user", &id), 2);
    assert_eq!(
        audit_events(dir.path(), "user.factors_reset"),
        [("cli".to_owned(), id.clone()), ("cli".to_owned(), id)]
    );
    for command in ["factors", "reset-factors"] {
        let unknown = run(gatehouse(dir.path()).args(["users", command, "nobody"]));
        assert!(!unknown.status.success(), "{command} of an unknown user");
    }
}

#[test]
fn the_first_administrator_is_created_with_a_role_and_roles_are_granted_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let admin = [
        "users",
        "create",
        "--username",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        "--output",
        "json",
    ];
    let created = json_of(&run_with_stdin(dir.path(), &admin, "a long passphrase\n"));
    assert_eq!(created["roles"], serde_json::json!(["admin"]), "{created}");

    let granted = run(gatehouse(dir.path()).args(["users", "grant-role", "admin", "auditor"]));
    assert!(granted.status.success(), "{}", stderr_of(&granted));
    let revoked = run(gatehouse(dir.path()).args(["users", "revoke-role", "admin", "admin"]));
    assert!(revoked.status.success(), "{}", stderr_of(&revoked));
    assert!(
        stderr_of(&revoked).contains("no longer holds the role admin"),
        "{}",
        stderr_of(&revoked)
    );
    let shown = json_of(&run(
        gatehouse(dir.path()).args(["users", "show", "admin", "--output", "json"])
    ));
    assert_eq!(shown["roles"], serde_json::json!(["auditor"]), "{shown}");
    assert_eq!(
        audit_events(dir.path(), "user.role_granted").len(),
        2,
        "the role at creation and the one granted after"
    );

    let unknown = run(gatehouse(dir.path()).args(["users", "grant-role", "admin", "root"]));
    assert!(!unknown.status.success());
    assert!(
        stderr_of(&unknown).contains("no role \"root\""),
        "{}",
        stderr_of(&unknown)
    );
    let nobody = run_with_stdin(
        dir.path(),
        &["users", "create", "--username", "bea", "--role", "root"],
        "",
    );
    assert!(!nobody.status.success(), "an unknown role creates nobody");
    let listed = json_of(&run(
        gatehouse(dir.path()).args(["users", "list", "--output", "json"])
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[test]
fn the_audit_trail_is_read_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(gatehouse(dir.path()).args(["users", "create", "--username", "ann"]));
    assert!(created.status.success(), "{}", stderr_of(&created));
    let disabled = run(gatehouse(dir.path()).args(["users", "disable", "ann"]));
    assert!(disabled.status.success(), "{}", stderr_of(&disabled));

    let events = json_of(&run(gatehouse(dir.path()).args([
        "audit",
        "--actor",
        "cli",
        "--target-type",
        "user",
        "--output",
        "json",
    ])));
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.first(),
        Some(&"user.updated"),
        "newest first: {actions:?}"
    );
    assert_eq!(actions.last(), Some(&"user.created"), "{actions:?}");

    let text = run(gatehouse(dir.path()).args(["audit", "--action", "user.created"]));
    assert!(text.status.success(), "{}", stderr_of(&text));
    let text = stdout_of(&text);
    assert!(text.starts_with("WHEN"), "{text}");
    assert!(
        text.contains("cli") && text.contains("user.created"),
        "{text}"
    );
    let bad = run(gatehouse(dir.path()).args(["audit", "--since", "yesterday"]));
    assert!(!bad.status.success());
    assert!(stderr_of(&bad).contains("since"), "{}", stderr_of(&bad));
}
