-- A grant is a user's consent for one client to a set of scopes. Everything issued under it
-- (refresh tokens, and through their `gid` claim the access tokens) is revoked with it.
CREATE TABLE grants (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
-- one live grant per user and client; revoked ones stay for the audit trail
CREATE UNIQUE INDEX grants_live_user_client ON grants (user_id, client_id) WHERE revoked_at IS NULL;
CREATE INDEX grants_client_id ON grants (client_id);
