-- Who did what to which object, for administrators and incident response. Never holds secrets.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    occurred_at INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT,
    request_id  TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id);
