//! The `gatehouse` binary itself: configuration errors, the embedded default, the key commands and
//! graceful shutdown. Each test runs the binary in its own temporary working directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

mod apply;
mod clients;
#[path = "../common/mod.rs"]
mod common;
mod config_errors;
mod embedded;
mod ephemeral;
mod keys;
mod logs;
mod users;

/// `gatehouse ARGS` in `dir`, with no `GATEHOUSE_*` variable inherited from the caller.
pub fn gatehouse(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEHOUSE_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.env("GATEHOUSE_LOG__FORMAT", "json");
    command
}

pub fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `gatehouse serve` and the address it announced in its log.
pub struct Server {
    pub child: Child,
    pub address: String,
}

/// Starts `gatehouse serve` on a free port in `dir` and waits for its "listening" log line.
pub fn serve(dir: &Path, extra_env: &[(&str, &str)]) -> Server {
    let mut command = gatehouse(dir);
    command
        .arg("serve")
        .env("GATEHOUSE_SERVER__BIND", "127.0.0.1:0")
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let Some(Ok(line)) = lines.next() else {
            let status = child.wait().unwrap();
            panic!("gatehouse exited ({status}) before listening");
        };
        if let Ok(log) = serde_json::from_str::<Value>(&line)
            && log["message"] == "gatehouse is listening"
        {
            break log["address"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, address }
}

impl Server {
    pub fn get(&self, path: &str) -> (u16, String) {
        reqwest::blocking_get(&format!("http://{}{path}", self.address))
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        self.child.wait().unwrap().code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

mod reqwest {
    /// A minimal blocking GET for these tests (status, body).
    pub fn blocking_get(url: &str) -> (u16, String) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = ::reqwest::get(url).await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        })
    }
}
