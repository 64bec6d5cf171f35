-- A client that requires a second factor (issue 12): every sign-in to it must reach the
-- authentication class `urn:gatehouse:acr:mfa` (OIDC Core §2 `acr`); a session signed in with a
-- password alone is stepped up.
ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
