//! Drives an OpenID provider found by discovery with N concurrent workers, for one of two
//! multi-step scenarios, and prints one JSON line of results:
//!
//! - `flow`: the authorization-code flow as a new browser does it (RFC 6749 §4.1 with PKCE,
//!   RFC 7636): the authorize URL, then redirects on the provider and its sign-in form (every
//!   hidden field kept, username and password filled in), until the redirect to the client
//!   carries a code; then the code for tokens at the token endpoint (client_secret_basic). Each
//!   flow is a new cookie jar, so each one signs in and pays for one password hash.
//! - `refresh`: each worker holds one refresh token (from a flow done before measuring) and
//!   exchanges it for the next (RFC 6749 §6); a token is used once, as rotation demands.
//!
//! ```text
//! side-by-side-driver flow|refresh --issuer URL --client-id ID --client-secret S
//!     --username U --password P --redirect-uri URI --scope "openid ..." [--param NAME=VALUE]...
//!     [--concurrency 8] [--seconds 10] [--warmup 0] [--handshake]
//! ```
//!
//! With `--handshake` it prints `ready` once discovery, seeding and warm-up are done and waits
//! for a line on standard input before measuring, so that the caller reads the servers' CPU
//! counters around the measured part only. Output: `{"ok", "errors", "seconds", "per_sec",
//! "p50_ms", "p99_ms", "http_requests", "error_kinds"}`; `ok` counts flows or refreshes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode, Url};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Flow,
    Refresh,
}

#[derive(Debug, Clone)]
struct Config {
    scenario: Scenario,
    issuer: String,
    client_id: String,
    client_secret: String,
    username: String,
    password: String,
    redirect_uri: String,
    scope: String,
    params: Vec<(String, String)>,
    concurrency: usize,
    seconds: f64,
    warmup: f64,
    handshake: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: side-by-side-driver flow|refresh --issuer URL --client-id ID --client-secret S \
         --username U --password P --redirect-uri URI --scope SCOPE [--param NAME=VALUE]... \
         [--concurrency N] [--seconds S] [--warmup S] [--handshake]"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut args = std::env::args().skip(1);
    let scenario = match args.next().as_deref() {
        Some("flow") => Scenario::Flow,
        Some("refresh") => Scenario::Refresh,
        _ => usage(),
    };
    let mut config = Config {
        scenario,
        issuer: String::new(),
        client_id: String::new(),
        client_secret: String::new(),
        username: String::new(),
        password: String::new(),
        redirect_uri: String::new(),
        scope: String::new(),
        params: Vec::new(),
        concurrency: 8,
        seconds: 10.0,
        warmup: 0.0,
        handshake: false,
    };
    while let Some(flag) = args.next() {
        if flag == "--handshake" {
            config.handshake = true;
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage());
        let number = |v: &str| v.parse::<f64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--issuer" => config.issuer = value.trim_end_matches('/').to_owned(),
            "--client-id" => config.client_id = value,
            "--client-secret" => config.client_secret = value,
            "--username" => config.username = value,
            "--password" => config.password = value,
            "--redirect-uri" => config.redirect_uri = value,
            "--scope" => config.scope = value,
            "--param" => {
                let (name, v) = value.split_once('=').unwrap_or_else(|| usage());
                config.params.push((name.to_owned(), v.to_owned()));
            }
            "--concurrency" => config.concurrency = number(&value).max(1.0) as usize,
            "--seconds" => config.seconds = number(&value),
            "--warmup" => config.warmup = number(&value),
            _ => usage(),
        }
    }
    if config.issuer.is_empty() || config.client_id.is_empty() || config.redirect_uri.is_empty() {
        usage()
    }
    config
}

/// The endpoints the scenarios need, from the provider's metadata (OIDC Discovery §4).
#[derive(Debug)]
struct Endpoints {
    authorization: Url,
    token: Url,
}

async fn discover(http: &Client, issuer: &str) -> Result<Endpoints, String> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let text = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let metadata: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))?;
    let endpoint = |name: &str| {
        metadata[name]
            .as_str()
            .and_then(|u| Url::parse(u).ok())
            .ok_or_else(|| format!("{url}: no {name}"))
    };
    Ok(Endpoints {
        authorization: endpoint("authorization_endpoint")?,
        token: endpoint("token_endpoint")?,
    })
}

/// What went wrong, by kind, so the output says whether errors were refusals or defects.
#[derive(Debug)]
struct Failure {
    kind: String,
    detail: String,
}

fn fail(kind: &str, detail: impl Into<String>) -> Failure {
    Failure {
        kind: kind.to_owned(),
        detail: detail.into(),
    }
}

fn http_failure(e: &reqwest::Error) -> Failure {
    fail("transport", e.to_string())
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the system has a random source");
    URL_SAFE_NO_PAD.encode(buf)
}

struct Shared {
    config: Config,
    endpoints: Endpoints,
    /// The relying party's back channel (token requests), pooled and kept alive.
    back_channel: Client,
}

/// One authorization-code flow in a new browser; returns the refresh token and the number of
/// HTTP requests it took.
async fn flow(shared: &Shared) -> Result<(Option<String>, u32), Failure> {
    let config = &shared.config;
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .map_err(|e| http_failure(&e))?;
    let verifier = random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_token(16);
    let mut url = shared.endpoints.authorization.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("scope", &config.scope)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        for (name, value) in &config.params {
            query.append_pair(name, value);
        }
    }
    let mut requests = 1;
    let mut response = browser
        .get(url)
        .send()
        .await
        .map_err(|e| http_failure(&e))?;
    let mut signed_in = false;
    let code = loop {
        if requests > 10 {
            return Err(fail(
                "too_many_steps",
                "more than 10 requests before a code",
            ));
        }
        let status = response.status();
        let here = response.url().clone();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| fail("protocol", format!("{status} without Location")))?;
            let next = here
                .join(location)
                .map_err(|e| fail("protocol", format!("Location {location}: {e}")))?;
            if next.as_str().starts_with(&config.redirect_uri) {
                break code_from(&next, &state)?;
            }
            response = browser
                .get(next)
                .send()
                .await
                .map_err(|e| http_failure(&e))?;
        } else if status == StatusCode::OK {
            let page = response.text().await.map_err(|e| http_failure(&e))?;
            if signed_in || !page.contains(r#"name="password""#) {
                return Err(fail(
                    "unexpected_page",
                    page.chars().take(300).collect::<String>(),
                ));
            }
            let form = Form::parse(&page).ok_or_else(|| fail("unexpected_page", "no form"))?;
            let action = here
                .join(&form.action)
                .map_err(|e| fail("protocol", format!("form action {}: {e}", form.action)))?;
            let mut fields = form.hidden;
            fields.push(("username".into(), config.username.clone()));
            fields.push(("password".into(), config.password.clone()));
            signed_in = true;
            response = browser
                .post(action)
                .form(&fields)
                .send()
                .await
                .map_err(|e| http_failure(&e))?;
        } else {
            let kind = format!("http_{}", status.as_u16());
            let body = response.text().await.unwrap_or_default();
            return Err(fail(&kind, body.chars().take(300).collect::<String>()));
        }
        requests += 1;
    };
    let tokens = token_request(
        shared,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &config.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await?;
    Ok((refresh_token_of(&tokens), requests + 1))
}

fn code_from(redirect: &Url, state: &str) -> Result<String, Failure> {
    let mut code = None;
    let mut returned_state = None;
    for (name, value) in redirect.query_pairs() {
        match name.as_ref() {
            "code" => code = Some(value.into_owned()),
            "state" => returned_state = Some(value.into_owned()),
            "error" => return Err(fail("authorization_error", redirect.as_str())),
            _ => {}
        }
    }
    if returned_state.as_deref() != Some(state) {
        return Err(fail("protocol", "state differs"));
    }
    code.ok_or_else(|| fail("protocol", format!("no code in {redirect}")))
}

fn refresh_token_of(tokens: &serde_json::Value) -> Option<String> {
    tokens["refresh_token"].as_str().map(str::to_owned)
}

async fn token_request(
    shared: &Shared,
    form: &[(&str, &str)],
) -> Result<serde_json::Value, Failure> {
    let config = &shared.config;
    let response = shared
        .back_channel
        .post(shared.endpoints.token.clone())
        .basic_auth(&config.client_id, Some(&config.client_secret))
        .form(form)
        .send()
        .await
        .map_err(|e| http_failure(&e))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| http_failure(&e))?;
    if status != StatusCode::OK {
        return Err(fail(
            &format!("token_{}", status.as_u16()),
            body.chars().take(300).collect::<String>(),
        ));
    }
    let tokens: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| fail("protocol", e.to_string()))?;
    if tokens["access_token"].as_str().is_none() {
        return Err(fail("protocol", "no access_token"));
    }
    Ok(tokens)
}

/// The parts of an HTML form a browser submits: its action and its hidden fields.
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
}

impl Form {
    fn parse(page: &str) -> Option<Self> {
        let start = page.find("<form")?;
        let form = &page[start..];
        let end = form.find("</form>").unwrap_or(form.len());
        let form = &form[..end];
        let action = attribute(tag_at(form, 0), "action")?;
        let mut hidden = Vec::new();
        let mut rest = form;
        while let Some(at) = rest.find("<input") {
            let tag = tag_at(rest, at);
            if attribute(tag, "type").as_deref() == Some("hidden")
                && let Some(name) = attribute(tag, "name")
            {
                hidden.push((name, attribute(tag, "value").unwrap_or_default()));
            }
            rest = &rest[at + tag.len()..];
        }
        Some(Self { action, hidden })
    }
}

fn tag_at(html: &str, at: usize) -> &str {
    let tail = &html[at..];
    &tail[..tail.find('>').map_or(tail.len(), |i| i + 1)]
}

/// The value of `name="…"` (or `name='…'`) in one tag, with HTML character references decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut search = tag;
    loop {
        let at = search.find(name)?;
        let before = search[..at].chars().last();
        let after = &search[at + name.len()..];
        if before.is_some_and(char::is_whitespace)
            && let Some(rest) = after.strip_prefix('=')
        {
            let quote = rest.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &rest[1..];
                let end = value.find(quote)?;
                return Some(decode_entities(&value[..end]));
            }
        }
        search = after;
    }
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    http_requests: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, failure: Failure) {
        *self.errors.entry(failure.kind.clone()).or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{}: {}", failure.kind, failure.detail));
        }
    }
}

async fn worker(shared: Arc<Shared>, mut refresh: Option<String>, until: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < until {
        let started = Instant::now();
        match shared.config.scenario {
            Scenario::Flow => match flow(&shared).await {
                Ok((_, requests)) => {
                    tally.http_requests += u64::from(requests);
                    tally.latencies_us.push(micros(started.elapsed()));
                }
                Err(failure) => tally.error(failure),
            },
            Scenario::Refresh => {
                let Some(token) = refresh.take() else {
                    // the chain broke (an error below): a new one, outside the figures
                    match flow(&shared).await {
                        Ok((token, requests)) => {
                            tally.http_requests += u64::from(requests);
                            refresh = token;
                        }
                        Err(failure) => tally.error(failure),
                    }
                    continue;
                };
                tally.http_requests += 1;
                let form = [("grant_type", "refresh_token"), ("refresh_token", &token)];
                match token_request(&shared, &form).await {
                    Ok(tokens) => match refresh_token_of(&tokens) {
                        Some(next) => {
                            tally.latencies_us.push(micros(started.elapsed()));
                            refresh = Some(next);
                        }
                        None => tally.error(fail("protocol", "refresh without a new token")),
                    },
                    Err(failure) => tally.error(failure),
                }
            }
        }
    }
    tally
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

async fn run_phase(shared: &Arc<Shared>, seconds: f64, seeds: &mut [Option<String>]) -> Phase {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let handles: Vec<_> = seeds
        .iter_mut()
        .map(|seed| tokio::spawn(worker(Arc::clone(shared), seed.take(), until)))
        .collect();
    let mut total = Tally::default();
    for handle in handles {
        let tally = handle.await.expect("a worker does not panic");
        total.latencies_us.extend(tally.latencies_us);
        total.http_requests += tally.http_requests;
        for (kind, n) in tally.errors {
            *total.errors.entry(kind).or_default() += n;
        }
        total.first_error = total.first_error.or(tally.first_error);
    }
    // Measured to the end of the last request, so that the caller's CPU counters (read after
    // this returns) cover the same requests as the rate.
    Phase {
        tally: total,
        elapsed: started.elapsed(),
    }
}

struct Phase {
    tally: Tally,
    elapsed: Duration,
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() {
    let config = parse_args();
    let back_channel = Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(config.concurrency)
        .build()
        .expect("an HTTP client without TLS builds");
    let endpoints = match discover(&back_channel, &config.issuer).await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            eprintln!("discovery failed: {e}");
            std::process::exit(1);
        }
    };
    let shared = Arc::new(Shared {
        config: config.clone(),
        endpoints,
        back_channel,
    });

    let warmup = config.warmup;
    if warmup > 0.0 {
        let mut seeds = seed(&shared).await;
        let warm = run_phase(&shared, warmup, &mut seeds).await;
        if warm.tally.latencies_us.is_empty() {
            eprintln!(
                "warm-up: nothing succeeded; first error: {}",
                warm.tally.first_error.unwrap_or_default()
            );
            std::process::exit(1);
        }
    }
    // Refresh tokens are single use: the measured phase starts from chains of its own.
    let seeds = seed(&shared).await;
    measure(shared, config, seeds).await;
}

/// One starting point per worker: for `refresh`, a refresh token from one flow each (done at
/// once); for `flow`, nothing.
async fn seed(shared: &Arc<Shared>) -> Vec<Option<String>> {
    let n = shared.config.concurrency;
    if shared.config.scenario == Scenario::Flow {
        return vec![None; n];
    }
    let flows: Vec<_> = (0..n)
        .map(|_| {
            let shared = Arc::clone(shared);
            tokio::spawn(async move { flow(&shared).await })
        })
        .collect();
    let mut seeds = Vec::with_capacity(n);
    for handle in flows {
        match handle.await.expect("a flow does not panic") {
            Ok((Some(token), _)) => seeds.push(Some(token)),
            Ok((None, _)) => {
                eprintln!("the flow returned no refresh token (is offline_access granted?)");
                std::process::exit(1);
            }
            Err(failure) => {
                eprintln!("seeding failed: {}: {}", failure.kind, failure.detail);
                std::process::exit(1);
            }
        }
    }
    seeds
}

async fn measure(shared: Arc<Shared>, config: Config, mut seeds: Vec<Option<String>>) {
    if config.handshake {
        println!("ready");
        let mut line = String::new();
        let _ = BufReader::new(tokio::io::stdin())
            .read_line(&mut line)
            .await;
    }
    let phase = run_phase(&shared, config.seconds, &mut seeds).await;
    let mut latencies = phase.tally.latencies_us;
    latencies.sort_unstable();
    let seconds = phase.elapsed.as_secs_f64();
    let errors: u64 = phase.tally.errors.values().sum();
    let result = serde_json::json!({
        "scenario": match config.scenario { Scenario::Flow => "flow", Scenario::Refresh => "refresh" },
        "concurrency": config.concurrency,
        "ok": latencies.len(),
        "errors": errors,
        "error_kinds": phase.tally.errors,
        "first_error": phase.tally.first_error,
        "seconds": seconds,
        "per_sec": latencies.len() as f64 / seconds,
        "p50_ms": percentile_ms(&latencies, 50.0),
        "p99_ms": percentile_ms(&latencies, 99.0),
        "http_requests": phase.tally.http_requests,
    });
    println!("{result}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_gives_its_action_and_hidden_fields_decoded() {
        let page = r#"<main><form method="post" action="/interaction/a&amp;b/login">
            <input type="hidden" name="csrf_token" value="x&#x2F;y&quot;z">
            <input name="username" value="ignored"><input type='hidden' name='n' value='1'>
            </form><form action="/other"><input type="hidden" name="late" value="no"></form>"#;
        let form = Form::parse(page).unwrap();
        assert_eq!(form.action, "/interaction/a&b/login");
        assert_eq!(
            form.hidden,
            vec![
                ("csrf_token".to_owned(), "x/y\"z".to_owned()),
                ("n".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn an_attribute_is_matched_by_its_whole_name() {
        assert_eq!(
            attribute(r#"<input data-name="a" name="b">"#, "name").as_deref(),
            Some("b")
        );
        assert_eq!(attribute(r#"<input xname="a">"#, "name"), None);
    }

    #[test]
    fn unknown_references_are_kept_as_they_are() {
        assert_eq!(decode_entities("a &nope; b & c &#65;"), "a &nope; b & c A");
    }

    #[test]
    fn the_code_must_come_back_with_the_state_sent() {
        let url = Url::parse("http://127.0.0.1:9/cb?code=c1&state=s1").unwrap();
        assert_eq!(code_from(&url, "s1").unwrap(), "c1");
        assert_eq!(code_from(&url, "s2").unwrap_err().kind, "protocol");
        let denied = Url::parse("http://127.0.0.1:9/cb?error=access_denied&state=s1").unwrap();
        assert_eq!(
            code_from(&denied, "s1").unwrap_err().kind,
            "authorization_error"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert!((percentile_ms(&sorted, 50.0) - 50.0).abs() < 1e-9);
        assert!((percentile_ms(&sorted, 99.0) - 99.0).abs() < 1e-9);
        assert!((percentile_ms(&[7000], 99.0) - 7.0).abs() < 1e-9);
        assert!(percentile_ms(&[], 50.0).abs() < 1e-9);
    }
}
