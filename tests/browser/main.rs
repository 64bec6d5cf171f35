//! Browser tests: a real headless Chromium, driven through chromedriver (WebDriver), against a
//! Gatehouse started in-process on port 0. Without chromedriver they skip with a notice, except
//! under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
// The API tests' `spawn_app`; this binary uses only part of it.
#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod callback;
mod chromedriver;
mod login;
mod passkey;
mod second_factor;
