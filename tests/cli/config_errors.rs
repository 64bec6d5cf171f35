//! A configuration that cannot be used stops the process with exit status 2 and one line naming
//! the key, for each kind of mistake.

use crate::{gatehouse, run, stderr_of};

fn assert_config_error(output: &std::process::Output, key: &str, problem: &str) {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    assert!(lines[0].contains(key), "names {key}: {stderr}");
    assert!(lines[0].contains(problem), "says {problem}: {stderr}");
}

#[test]
fn an_unknown_key_in_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gatehouse.toml"),
        "[server]\nbindd = \"127.0.0.1:1\"\n",
    )
    .unwrap();

    let output = run(gatehouse(dir.path()).arg("serve"));

    assert_config_error(&output, "server.bindd", "unknown key");
    assert!(
        stderr_of(&output).contains("gatehouse.toml"),
        "names the file"
    );
}

#[test]
fn an_unknown_environment_variable_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_DATABASE__URLL", "x"));

    assert_config_error(&output, "database.urll", "unknown key");
    assert!(
        stderr_of(&output).contains("GATEHOUSE_DATABASE__URLL"),
        "names the variable"
    );
}

#[test]
fn a_bad_database_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_DATABASE__URL", "mysql://db/gatehouse"));

    assert_config_error(&output, "database.url", "not supported");
}

#[test]
fn a_bad_redis_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_EPHEMERAL__URL", "redis//cache"));

    assert_config_error(&output, "ephemeral.url", "URL");
}

#[test]
fn a_port_out_of_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:70000"));

    assert_config_error(&output, "server.bind", "port 70000 is out of range");
}

#[test]
fn an_unreadable_config_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path()).args(["--config", "missing.toml", "serve"]));

    assert_config_error(&output, "--config", "cannot read missing.toml");
}

#[test]
fn a_short_encryption_key_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();

    let output = run(gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_KEYS__ENCRYPTION_KEY", "c2VjcmV0LXZhbHVl"));

    assert_config_error(&output, "keys.encryption_key", "must be 32 bytes");
    assert!(
        !stderr_of(&output).contains("c2VjcmV0LXZhbHVl"),
        "never prints the secret"
    );
}
