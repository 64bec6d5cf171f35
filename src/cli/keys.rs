use std::sync::Arc;

use clap::Subcommand;
use time::format_description::well_known::Rfc3339;

use super::Output;
use crate::admin::keys::{self, KeyView};
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
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

pub async fn run(settings: Settings, command: KeysCommand) -> anyhow::Result<()> {
    let db = store::connect(&settings.database).await?;
    let ring = KeyRing::open(Arc::clone(&db), &settings.keys).await?;
    match command {
        KeysCommand::List { output } => print(&keys::list_keys(&ring), output),
        KeysCommand::Rotate { alg, now, output } => {
            let rotated = keys::rotate_keys(&ring, alg, now, "cli", SystemClock.now()).await?;
            print(&rotated, output)
        }
    }
}

fn print(keys: &[KeyView], output: Output) -> anyhow::Result<()> {
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
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
