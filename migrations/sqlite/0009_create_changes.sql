-- The change feed: what every instance's in-process caches must learn, and the durable home of
-- revocations (RFC 7009 §2.2: a revoked token must stay refused until it would have expired
-- anyway, whatever happens to the ephemeral store). Times are unix seconds. See the PostgreSQL
-- migration of the same number for the kinds.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_subject ON changes (kind, subject);
CREATE INDEX changes_expires_at ON changes (expires_at);

-- A disabled client cannot authenticate or be used to sign in, and its tokens are refused.
ALTER TABLE clients ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
