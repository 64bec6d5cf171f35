//! The background work of a running instance: following the change feed (polled, and at once
//! after a local write or a change notice), key transitions and purges.

use std::time::Duration;

use actix_web::web;

use crate::state::AppState;

/// The background work of an instance, until the server stops: follows the change feed and
/// performs due key transitions.
pub(super) async fn maintain(state: web::Data<AppState>) {
    let follow = follow_changes(state.clone());
    let announce = announce_changes(state.clone());
    let hear = hear_changes(state.clone());
    let keys = maintain_keys(state.clone());
    let purge = purge_changes(state);
    tokio::join!(follow, announce, hear, keys, purge);
}

/// After each write to the feed from this process: applies it here at once (an admin change
/// made through `/v1` holds on this instance before the response is read) and tells the
/// other instances (src/current/notices.rs).
async fn announce_changes(state: web::Data<AppState>) {
    let bell = state.db.change_bell();
    loop {
        bell.rung().await;
        state.notices.announce().await;
        catch_up(&state, "after a local change").await;
    }
}

/// Reads the feed whenever another instance says it moved.
async fn hear_changes(state: web::Data<AppState>) {
    let heard = tokio::sync::Notify::new();
    let listen = state.notices.listen(&heard, &state.metrics);
    let apply = async {
        loop {
            heard.notified().await;
            catch_up(&state, "after a change notice").await;
        }
    };
    tokio::join!(listen, apply);
}

/// One read of the feed outside the poll; a failure is the poll's to report and retry.
async fn catch_up(state: &AppState, why: &'static str) {
    if let Err(error) = state.current.sync(state.clock.now()).await {
        tracing::debug!(%error, why, "could not read the change feed");
    }
}

/// Reads the change feed every `cache.poll_interval_ms`, so what another instance (or the CLI)
/// revoked or changed holds here too.
async fn follow_changes(state: web::Data<AppState>) {
    let mut ticks = tokio::time::interval(state.current.policy().poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        match state.current.sync(state.clock.now()).await {
            Ok(_) => {
                if failing {
                    tracing::info!("the change feed is readable again");
                    // Clients may have changed unseen meanwhile only if rows were purged; the
                    // re-read covers the rest. Drop them anyway: it costs one read each.
                    state.current.clients.clear();
                    failing = false;
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "cannot read the change feed; will retry");
                }
                failing = true;
            }
        }
    }
}

/// Deletes expired rows of the change feed and audit events past `audit.retain_days`, a bounded
/// batch of each a minute.
async fn purge_changes(state: web::Data<AppState>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(60));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // A day past expiry: an instance that was away a while can still read what it missed.
        let cutoff = state.clock.now() - time::Duration::days(1);
        if let Err(error) = state.db.purge_changes(cutoff, 10_000).await {
            tracing::warn!(%error, "could not purge the change feed");
        }
        let retain_days = state.settings.audit.retain_days;
        match crate::admin::audit::purge_expired(state.db.as_ref(), retain_days, state.clock.now())
            .await
        {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "deleted audit events past their retention"),
            Err(error) => tracing::warn!(%error, "could not purge the audit trail"),
        }
    }
}

/// Performs due key transitions and picks up other instances' changes, until the server stops.
async fn maintain_keys(state: web::Data<AppState>) {
    let period = Duration::from_secs(state.settings.keys.refresh_interval_secs);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(error) = state.keys.maintain(state.clock.now(), "system").await {
            tracing::warn!(%error, "key ring maintenance failed; will retry");
        }
        purge_idempotency_records(&state).await;
    }
}

/// The most expired idempotency records one maintenance tick deletes, so a purge never holds
/// the table for long; a backlog shrinks by this much a tick.
const IDEMPOTENCY_PURGE_BATCH: u32 = 1000;

/// Deletes a batch of expired idempotency records; a failure waits for the next tick.
async fn purge_idempotency_records(state: &AppState) {
    let purge = state
        .db
        .purge_expired_idempotency_records(state.clock.now(), IDEMPOTENCY_PURGE_BATCH);
    match purge.await {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "purged expired idempotency records"),
        Err(error) => tracing::warn!(%error, "purging idempotency records failed; will retry"),
    }
}
