-- Refresh tokens: 256 random bits, stored only as a SHA-256 digest. Each use rotates the token
-- within its family (all tokens descended from one authorization code); presenting a used token
-- after the grace window revokes the whole family (RFC 9700 §4.14.2).
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    digest      BLOB NOT NULL UNIQUE,
    grant_id    TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    family_id   TEXT NOT NULL,
    parent_id   TEXT REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    scopes      TEXT NOT NULL DEFAULT '[]',
    auth_time   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
