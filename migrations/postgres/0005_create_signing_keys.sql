-- Signing keys: next (published, not yet signing) -> active -> retired (published until every
-- token it signed has expired) -> deleted. The private part is sealed with AES-256-GCM under the
-- key-encryption key from the configuration; it is never stored in the clear.
CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256', 'EdDSA')),
    state              TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    public_jwk         JSONB NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    activates_at       TIMESTAMPTZ NOT NULL,
    retired_at         TIMESTAMPTZ,
    CHECK ((state = 'retired') = (retired_at IS NOT NULL))
);
-- several instances may race to create or promote keys: the database keeps one of each per algorithm
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (algorithm) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (algorithm) WHERE state = 'next';
