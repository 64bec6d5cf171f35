//! The audit trail's contract on SQLite and PostgreSQL: filtered reads, newest first, a page at
//! a time, and deletion of what is past its retention, a bounded batch at a time.

use std::sync::Arc;

use gatehouse::store::{After, AuditFilter, Database, NewAuditEvent};

use crate::durable::t;

macro_rules! every_case {
    ($kind:literal) => {
        crate::store_suite!($kind:
            events_are_read_newest_first_by_any_filter,
            pages_continue_before_the_last_event_seen,
            past_events_are_deleted_a_batch_at_a_time,
        );
    };
}

mod sqlite {
    every_case!("sqlite");
}

mod postgres {
    every_case!("postgres");
}

async fn record(db: &Arc<dyn Database>, actor: &str, action: &str, target: &str, at: i64) {
    let event = NewAuditEvent::new(actor, action, "user", Some(target), serde_json::json!({}));
    db.record_audit_event(&event, t(at)).await.unwrap();
}

async fn actions(db: &Arc<dyn Database>, filter: &AuditFilter) -> Vec<String> {
    db.list_audit_events(filter, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            format!(
                "{}@{}",
                e.event.action,
                (e.occurred_at - t(0)).whole_seconds()
            )
        })
        .collect()
}

async fn events_are_read_newest_first_by_any_filter(db: Arc<dyn Database>) {
    record(&db, "ann", "user.created", "u1", 10).await;
    record(&db, "bob", "user.updated", "u1", 20).await;
    record(&db, "ann", "user.updated", "u2", 30).await;

    let all = AuditFilter::default();
    assert_eq!(
        actions(&db, &all).await,
        ["user.updated@30", "user.updated@20", "user.created@10"]
    );
    let by_ann = AuditFilter {
        actor: Some("ann".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        actions(&db, &by_ann).await,
        ["user.updated@30", "user.created@10"]
    );
    let on_u1_updated = AuditFilter {
        action: Some("user.updated".into()),
        target_type: Some("user".into()),
        target_id: Some("u1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(actions(&db, &on_u1_updated).await, ["user.updated@20"]);
    let window = AuditFilter {
        since: Some(t(20)),
        until: Some(t(30)),
        ..AuditFilter::default()
    };
    assert_eq!(
        actions(&db, &window).await,
        ["user.updated@20"],
        "since in, until out"
    );
}

async fn pages_continue_before_the_last_event_seen(db: Arc<dyn Database>) {
    // Five events, two of them in the same second: the id orders those.
    for (i, at) in [10, 20, 20, 30, 40].into_iter().enumerate() {
        record(&db, "ann", &format!("step.{i}"), "u1", at).await;
    }
    let all = AuditFilter::default();
    let mut seen = Vec::new();
    let mut before: Option<After> = None;
    loop {
        let page = db
            .list_audit_events(&all, before.as_ref(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(After {
            created_at: last.occurred_at,
            id: last.id.to_string(),
        });
        seen.extend(page.iter().map(|e| e.event.action.clone()));
    }
    assert_eq!(seen.len(), 5, "every event once: {seen:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no event twice");
}

async fn past_events_are_deleted_a_batch_at_a_time(db: Arc<dyn Database>) {
    for at in [10, 20, 30, 40] {
        record(&db, "ann", "user.updated", "u1", at).await;
    }
    assert_eq!(db.delete_audit_events_before(t(35), 2).await.unwrap(), 2);
    assert_eq!(db.delete_audit_events_before(t(35), 2).await.unwrap(), 1);
    assert_eq!(db.delete_audit_events_before(t(35), 2).await.unwrap(), 0);
    assert_eq!(
        actions(&db, &AuditFilter::default()).await,
        ["user.updated@40"]
    );
}
