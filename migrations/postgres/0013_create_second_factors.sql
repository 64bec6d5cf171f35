-- Second factors. A TOTP authenticator (RFC 6238) per user: its secret sealed (AES-256-GCM) under
-- the key-encryption key, unconfirmed until the first code is typed, and the last time step a
-- code was accepted for, so a code is accepted once on every instance (RFC 6238 §5.2).
CREATE TABLE totp_factors (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret  BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    last_used_step BIGINT
);

-- Single-use recovery codes, stored only as SHA-256 digests of the normalised code.
CREATE TABLE recovery_codes (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, digest)
);
