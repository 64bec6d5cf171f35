-- A client that requires a second factor (issue 12): every sign-in to it must reach the
-- authentication class `urn:gatehouse:acr:mfa` (OIDC Core §2 `acr`); a session signed in with a
-- password alone is stepped up. Booleans are INTEGER in these STRICT tables, as `first_party` is.
ALTER TABLE clients ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
