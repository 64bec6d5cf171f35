-- A revoked signing key is distrusted for good: its row leaves signing_keys (and with it the
-- sealed private key) in the same transaction that records it here, and nothing lists, promotes
-- or inserts a key whose kid is recorded here again. The record is kept forever: it is tiny.
CREATE TABLE signing_key_revocations (
    kid        TEXT PRIMARY KEY,
    algorithm  TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256', 'EdDSA')),
    revoked_at TIMESTAMPTZ NOT NULL
);
