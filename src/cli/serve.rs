//! `gatehouse serve [--ephemeral] [--port N]`: runs the service until SIGTERM or Ctrl-C.

use std::io::Write as _;

use crate::config::{BindAddress, ConfigError, Settings};
use crate::startup::Application;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// For tests: an in-memory database and store, keys generated at start under a
    /// key-encryption key that never leaves the process, nothing written to disk, and test
    /// mode (POST /testing/tokens). Prints the base URL as the first line of standard output.
    #[arg(long)]
    ephemeral: bool,
    /// Listens on this port, overriding the port of server.bind. With 0 (any free port) the
    /// base URL actually bound is printed as the first line of standard output.
    #[arg(long, value_name = "N")]
    port: Option<u16>,
}

impl ServeArgs {
    /// Applies the flags to the loaded settings; a refused combination is a configuration error.
    pub fn apply(&self, settings: &mut Settings) -> Result<(), ConfigError> {
        if self.ephemeral {
            settings.make_ephemeral()?;
        }
        if let Some(port) = self.port {
            let mut address = settings.server.bind.socket_addr();
            address.set_port(port);
            settings.server.bind = BindAddress::from_socket_addr(address);
        }
        Ok(())
    }
}

pub async fn run(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let announce = args.ephemeral || settings.server.bind.socket_addr().port() == 0;
    let app = Application::build(settings).await?;
    if announce {
        announce_url(&app.local_url());
    }
    app.run_until_stopped().await?;
    tracing::info!("gatehouse stopped gracefully");
    Ok(())
}

/// Writes the base URL as the first line of standard output, at once, for a test harness to
/// read (logs go to standard error). Written when the service is ready: keys exist and the
/// listener accepts.
fn announce_url(url: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{url}").and_then(|()| stdout.flush()) {
        tracing::warn!(%error, "could not print the base URL on standard output");
    }
}
