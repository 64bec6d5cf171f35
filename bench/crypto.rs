//! Micro-benchmark of the two costs on the client_credentials path (verifying a client secret,
//! signing an access token) and of the cost of a login (one argon2id verification).
//! `cargo bench --bench crypto` (release profile). Prints the median of 25 batches per
//! operation, so one noisy batch does not move the figure.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gatehouse::config::PasswordSettings;
use gatehouse::crypto::{
    Password, PasswordHasher, PlainSecret, SigningAlgorithm, SigningKey, sign_jwt,
};
use serde_json::json;

const BATCHES: usize = 25;

/// Median time per call of `op`, over `BATCHES` batches of `per_batch` calls.
fn median_per_call(per_batch: u32, mut op: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..per_batch {
                op();
            }
            started.elapsed() / per_batch
        })
        .collect();
    samples.sort_unstable();
    samples[BATCHES / 2]
}

fn report(name: &str, per_call: Duration) {
    println!("{name:<44} median {:>9.2} µs", per_call.as_secs_f64() * 1e6);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = PlainSecret::generate();
    let stored = [PlainSecret::generate().digest(), secret.digest()];
    report(
        "client secret verification (2 live secrets)",
        median_per_call(20_000, || {
            black_box(black_box(&secret).matches_any(black_box(&stored)));
        }),
    );

    let claims = json!({
        "iss": "https://id.example.com", "sub": "billing", "aud": "https://api.example.com",
        "exp": 1_900_000_000, "iat": 1_899_999_100, "jti": "2b6f0cc9-6e3e-4a8a-9d6b-0f1f3c2a1b7e",
        "client_id": "billing", "scope": "invoices:read",
    });
    for (name, algorithm, per_batch) in [
        (
            "access token signature, ES256",
            SigningAlgorithm::Es256,
            2_000,
        ),
        (
            "access token signature, EdDSA",
            SigningAlgorithm::EdDsa,
            2_000,
        ),
        (
            "access token signature, RS256 (2048)",
            SigningAlgorithm::Rs256,
            200,
        ),
    ] {
        let (key, _) = SigningKey::generate(algorithm)?;
        report(
            name,
            median_per_call(per_batch, || {
                black_box(sign_jwt(&key, "at+jwt", black_box(&claims)).ok());
            }),
        );
    }
    password_verification()
}

/// One argon2id verification with the default `passwords.*` settings (OWASP: m=19456 KiB, t=2,
/// p=1), through the bulkhead and the blocking pool, as a login pays it.
fn password_verification() -> Result<(), Box<dyn std::error::Error>> {
    let settings = PasswordSettings::default();
    let hasher = PasswordHasher::new(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let password = Password::new("correct horse battery staple".into());
    let hash = runtime.block_on(hasher.hash(&password))?;
    let name = format!(
        "argon2id verification (m={} KiB, t={}, p={})",
        settings.memory_kib, settings.iterations, settings.parallelism
    );
    report(
        &name,
        median_per_call(4, || {
            black_box(runtime.block_on(hasher.verify(&password, Some(&hash))).ok());
        }),
    );
    Ok(())
}
