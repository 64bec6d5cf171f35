-- A grant is a user's consent for one client to a set of scopes. Everything issued under it
-- (refresh tokens, and through their `gid` claim the access tokens) is revoked with it.
CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
-- one live grant per user and client; revoked ones stay for the audit trail
CREATE UNIQUE INDEX grants_live_user_client ON grants (user_id, client_id) WHERE revoked_at IS NULL;
CREATE INDEX grants_client_id ON grants (client_id);
