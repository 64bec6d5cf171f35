-- The audit log is read by actor and by action (`GET /v1/audit-events`, `gatehouse audit`),
-- newest first; the target index (0006) serves the per-target reads.
CREATE INDEX audit_events_actor ON audit_events (actor, occurred_at);
CREATE INDEX audit_events_action ON audit_events (action, occurred_at);
