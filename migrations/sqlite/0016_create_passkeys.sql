-- Passkeys (WebAuthn Level 2 public-key credentials), several per user. `credential_id` is the
-- authenticator's id for it, unique across every user (WebAuthn §7.1 step 22: a credential
-- registered to one account is never accepted for another); `credential` is the verified
-- credential as webauthn-rs keeps it (public key, signature counter, backup flags): nothing in
-- it is secret. `last_used_at` shows on the account page.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    CONSTRAINT passkeys_credential_id UNIQUE (credential_id)
) STRICT;

CREATE INDEX passkeys_user_id ON passkeys (user_id);
