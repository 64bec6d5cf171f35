-- The change feed: what every instance's in-process caches must learn, and the durable home of
-- revocations (RFC 7009 §2.2: a revoked token must stay refused until it would have expired
-- anyway, whatever happens to Redis). Each instance loads the live rows at start and reads new
-- ones every fraction of a second.
--   kind 'token'  subject = SHA-256 of a jti: that access token is revoked
--   kind 'grant'  / 'family' subject = a grant or token-family id: every token under it is revoked
--   kind 'user'   / 'client' subject = a user id or client id: every token (and, for a user,
--                 every browser session) issued at or before `at` is revoked
--   kind 'scope'  subject = '<client id> <scope>': that client's tokens carrying the scope,
--                 issued at or before `at`, are revoked (the scope was taken from the client)
--   kind 'client-changed' / 'keys': a cached client or the key ring must be read again
-- A row may be purged once `expires_at` has passed: no token it covers can still be live.
CREATE TABLE changes (
    seq        BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX changes_subject ON changes (kind, subject);
CREATE INDEX changes_expires_at ON changes (expires_at);

-- A disabled client cannot authenticate or be used to sign in, and its tokens are refused.
ALTER TABLE clients ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
