use std::sync::Arc;

use clap::Subcommand;
use time::format_description::well_known::Rfc3339;

use super::Output;
use crate::admin::AdminError;
use crate::admin::keys::{self, KeyView, RevokedKeyView, Rotated, Rotation};
use crate::clock::{Clock as _, SystemClock};
use crate::config::Settings;
use crate::crypto::SigningAlgorithm;
use crate::keyring::KeyRing;
use crate::store;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state and lifecycle times.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Stage a successor for the active key; it is published now and signs after
    /// keys.publish_ahead_secs, so cached JWKS copies learn it first.
    Rotate {
        /// The algorithm to rotate (default: every configured one).
        #[arg(long)]
        alg: Option<SigningAlgorithm>,
        /// Make the successor sign at once (a compromised key): tokens signed by it may be
        /// refused by resource servers until their JWKS cache refreshes.
        #[arg(long)]
        now: bool,
        /// With --now, revoke the keys that signed until now (the incident procedure):
        /// everything they signed is refused from then on.
        #[arg(long, requires = "now")]
        revoke_current: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Revoke a key for good: it leaves the JWKS and everything it signed is refused. The key
    /// that signs now is first replaced by a new one.
    Revoke {
        /// The key's kid (see `keys list`).
        kid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

pub async fn run(settings: Settings, command: KeysCommand) -> anyhow::Result<()> {
    let db = store::connect(&settings.database).await?;
    let ring = KeyRing::open(Arc::clone(&db), &settings.keys).await?;
    match command {
        KeysCommand::List { output } => print(&keys::list_keys(&ring), output),
        KeysCommand::Rotate {
            alg,
            now,
            revoke_current,
            output,
        } => {
            let rotation = Rotation {
                alg,
                immediately: now,
                revoke_current,
            };
            let rotated = keys::rotate_keys(&ring, rotation, "cli", SystemClock.now()).await?;
            print_rotated(&rotated, revoke_current, output)
        }
        KeysCommand::Revoke { kid, output } => {
            let revoked = keys::revoke_key(&ring, &kid, "cli", SystemClock.now())
                .await
                .map_err(|error| match error {
                    AdminError::NotFound => {
                        anyhow::anyhow!("no signing key {kid} (see `gatehouse keys list`)")
                    }
                    other => other.into(),
                })?;
            print_revoked(&revoked, output)
        }
    }
}

/// The new keys; with `--revoke-current`, the revoked ones too (JSON: `{"items", "revoked"}`,
/// the shape of `POST /v1/keys/rotate`).
fn print_rotated(rotated: &Rotated, revoke_current: bool, output: Output) -> anyhow::Result<()> {
    match (output, revoke_current) {
        (Output::Json, true) => println!("{}", serde_json::to_string_pretty(rotated)?),
        (_, false) => print(&rotated.items, output)?,
        (Output::Text, true) => {
            print(&rotated.items, output)?;
            for revoked in &rotated.revoked {
                println!("revoked: {} ({})", revoked.kid, revoked.alg);
            }
        }
    }
    Ok(())
}

fn print_revoked(revoked: &RevokedKeyView, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(revoked)?),
        Output::Text => {
            println!(
                "revoked: {} ({}) at {}",
                revoked.kid,
                revoked.alg,
                time(revoked.revoked_at)
            );
            if let Some(successor) = &revoked.successor {
                println!("signing now: {} ({})", successor.kid, successor.alg);
            }
        }
    }
    Ok(())
}

fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn print(keys: &[KeyView], output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(keys)?),
        Output::Text => {
            println!(
                "{:<43}  {:<5}  {:<7}  {:<20}  {:<20}  RETIRED",
                "KID", "ALG", "STATE", "CREATED", "ACTIVATES"
            );
            for k in keys {
                println!(
                    "{:<43}  {:<5}  {:<7}  {:<20}  {:<20}  {}",
                    k.kid,
                    k.alg.as_str(),
                    k.state.as_str(),
                    time(k.created_at),
                    time(k.activates_at),
                    k.retired_at.map(time).unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    Ok(())
}
