//! What the default log writes under a flood of refused requests: one short access line each.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::gatehouse;

const CLIENT: &str = r#"
[[clients]]
client_id = "flooded"
name = "Flooded"
scopes = ["orders:read"]
client_secret = "flooded-secret-0123456789abcdef-0123"
"#;

#[test]
fn a_flood_of_wrong_client_secrets_writes_one_short_line_a_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gatehouse.toml"), CLIENT).unwrap();
    let log = dir.path().join("gatehouse.log");
    let mut child = gatehouse(dir.path())
        .args(["serve", "--ephemeral", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("the binary starts");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim_end().to_owned();
    const REQUESTS: usize = 50;

    let statuses = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for _ in 0..REQUESTS {
                let response = client
                    .post(format!("{url}/oauth2/token"))
                    .basic_auth("flooded", Some("wrong-secret-0123456789abcdef-0123"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                statuses.push(response.status().as_u16());
            }
            statuses
        });
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();

    // 401 until the client-authentication throttle refuses the rest with 429
    let limit = 20; // client_auth.max_failures
    assert!(statuses[..limit].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[limit..].iter().all(|s| *s == 429), "{statuses:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|log| log["span"]["http.route"] == "/oauth2/token")
        })
        .collect();
    assert_eq!(
        lines.len(),
        REQUESTS,
        "one line a request:\n{}",
        lines.join("\n")
    );
    assert!(
        lines
            .iter()
            .all(|line| line.contains("\"request completed\"")),
        "only the access line:\n{}",
        lines.join("\n")
    );
    let bytes: usize = lines.iter().map(|line| line.len() + 1).sum();
    assert!(
        bytes / REQUESTS < 800,
        "{} bytes a request",
        bytes / REQUESTS
    );
}
