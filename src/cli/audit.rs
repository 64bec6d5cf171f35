//! `gatehouse audit`: the audit trail, newest first, as `GET /v1/audit-events` shows it.

use clap::Args;
use time::format_description::well_known::Rfc3339;

use super::Output;
use crate::admin::PageRequest;
use crate::admin::audit::{self, AuditEventView, AuditQuery};
use crate::config::Settings;
use crate::store;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only what this actor did: a user id, a client id, `cli` or `system`.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action, as `client.created` or `user.role_granted`.
    #[arg(long)]
    action: Option<String>,
    #[arg(long)]
    target_type: Option<String>,
    #[arg(long)]
    target_id: Option<String>,
    /// At or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// How many events, newest first (1 to 200).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

pub async fn run(settings: Settings, args: AuditArgs) -> anyhow::Result<()> {
    let db = store::connect(&settings.database).await?;
    let query = AuditQuery {
        actor: args.actor,
        action: args.action,
        target_type: args.target_type,
        target_id: args.target_id,
        since: args.since,
        until: args.until,
    };
    let page = PageRequest::parse(Some(args.limit), None)?;
    let events = audit::list_audit_events(db.as_ref(), &query, &page)
        .await?
        .items;
    print_events(args.output, &events)
}

fn print_events(output: Output, events: &[AuditEventView]) -> anyhow::Result<()> {
    if let Output::Json = output {
        println!("{}", serde_json::to_string_pretty(events)?);
        return Ok(());
    }
    println!("{:<20}  {:<36}  {:<24}  TARGET", "WHEN", "ACTOR", "ACTION");
    for event in events {
        let target = match &event.target_id {
            Some(id) => format!("{} {id}", event.target_type),
            None => event.target_type.clone(),
        };
        println!(
            "{:<20}  {:<36}  {:<24}  {target}",
            event.occurred_at.format(&Rfc3339)?,
            event.actor,
            event.action
        );
    }
    Ok(())
}
