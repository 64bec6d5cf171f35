//! The one command line: `gatehouse serve|migrate|clients|users|apply|keys|healthcheck`.

mod apply;
mod audit;
mod clients;
mod healthcheck;
mod keys;
mod serve;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Settings;
use crate::store;
use crate::telemetry::init_logging;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "An OAuth 2.0 / OpenID Connect provider"
)]
pub struct Cli {
    /// Configuration file (default: ./gatehouse.toml when present). GATEHOUSE_* variables
    /// override it: GATEHOUSE_DATABASE__URL sets database.url.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Register and manage OAuth clients.
    Clients {
        #[command(subcommand)]
        command: clients::ClientsCommand,
    },
    /// Create and manage the people who sign in.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Create or update the [[clients]] and [[users]] a file declares; print what changes.
    Apply(apply::ApplyArgs),
    /// Read the audit trail, newest first: who did what to which record.
    Audit(audit::AuditArgs),
    /// Inspect and rotate signing keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Exit 0 when the local instance answers /healthz (for container HEALTHCHECKs).
    Healthcheck {
        /// Defaults to http://<server.bind>/healthz (loopback when bound to all interfaces).
        #[arg(long)]
        url: Option<String>,
    },
}

/// How commands that print records print them.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// Exit status for an unusable configuration.
const EXIT_CONFIG: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Command::Serve(args) = &cli.command
        && let Err(error) = args.apply(&mut settings)
    {
        eprintln!("{error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    if let Command::Healthcheck { url } = &cli.command {
        return healthcheck::run(&settings, url.as_deref());
    }
    init_logging(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(settings, args).await,
            Command::Migrate => migrate(settings).await,
            Command::Clients { command } => clients::run(settings, command).await,
            Command::Users { command } => users::run(settings, command).await,
            Command::Keys { command } => keys::run(settings, command).await,
            Command::Apply(args) => apply::run(settings, args).await,
            Command::Audit(args) => audit::run(settings, args).await,
            Command::Healthcheck { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(line) = apply::configuration_error(&error) {
                eprintln!("{line}");
                return ExitCode::from(EXIT_CONFIG);
            }
            tracing::error!(error = %format!("{error:#}"), "gatehouse stopped");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(mut settings: Settings) -> anyhow::Result<()> {
    settings.database.migrate_on_start = false;
    let db = store::connect(&settings.database).await?;
    let applied = db.migrate().await?;
    println!(
        "applied {applied} migration(s) to the {} database",
        db.backend()
    );
    Ok(())
}
