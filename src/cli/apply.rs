//! `gatehouse apply FILE [--dry-run]`: makes the `[[clients]]` and `[[users]]` of FILE true in
//! the configured database, one line per object (`create client billing`, `update user ann:
//! email`, `unchanged client web`), then a summary. Secrets are never printed.

use std::path::PathBuf;

use clap::Args;

use crate::admin::declare::{self, DeclareError, Plan};
use crate::clock::{Clock as _, SystemClock};
use crate::config::{ConfigError, Settings};
use crate::crypto::PasswordHasher;
use crate::startup::StartupError;
use crate::store;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A TOML file in the configuration's form: any of its keys is allowed, and only its
    /// [[clients]] and [[users]] are applied (to the database of --config).
    file: PathBuf,
    /// Print what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(settings: Settings, args: ApplyArgs) -> anyhow::Result<()> {
    let mut declarations = Settings::load_declarations(&args.file)?;
    declarations.signing_algorithms = settings.keys.algorithms.clone();
    declare::check(&declarations)?;
    declare::check_fixed_secrets_allowed(&declarations, settings.testing.enabled)?;
    let db = store::connect(&settings.database).await?;
    let hasher = PasswordHasher::new(&settings.passwords)?;
    let now = SystemClock.now();
    let plan = if args.dry_run {
        declare::plan(db.as_ref(), &hasher, &declarations, now).await?
    } else {
        declare::apply(db.as_ref(), &hasher, &declarations, "cli", now).await?
    };
    for step in &plan.steps {
        println!("{step}");
    }
    println!("{}", summary(&plan, args.dry_run));
    Ok(())
}

fn summary(plan: &Plan, dry_run: bool) -> String {
    let (created, updated, unchanged) = (plan.created(), plan.updated(), plan.unchanged());
    if dry_run {
        format!(
            "dry run: {created} to create, {updated} to update, {unchanged} unchanged; \
             nothing was changed"
        )
    } else {
        format!("applied: {created} created, {updated} updated, {unchanged} unchanged")
    }
}

/// The one line printed before exiting 2 when a command failed on its configuration: a
/// declared object that the admin API would refuse (at start or by `apply`), or a file that
/// `apply` cannot use.
pub fn configuration_error(error: &anyhow::Error) -> Option<String> {
    let declared = match error.downcast_ref::<StartupError>() {
        Some(StartupError::Declarations(declared)) => Some(declared),
        _ => error.downcast_ref::<DeclareError>(),
    };
    if let Some(declared) = declared.filter(|d| d.is_invalid()) {
        return Some(format!("configuration error: {declared}"));
    }
    error.downcast_ref::<ConfigError>().map(ToString::to_string)
}
