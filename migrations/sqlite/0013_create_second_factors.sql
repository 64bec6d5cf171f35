-- Second factors. A TOTP authenticator (RFC 6238) per user: its secret sealed (AES-256-GCM) under
-- the key-encryption key, unconfirmed until the first code is typed, and the last time step a
-- code was accepted for, so a code is accepted once on every instance (RFC 6238 §5.2).
CREATE TABLE totp_factors (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret  BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    confirmed_at   INTEGER,
    last_used_step INTEGER
) STRICT;

-- Single-use recovery codes, stored only as SHA-256 digests of the normalised code.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, digest)
) STRICT;
