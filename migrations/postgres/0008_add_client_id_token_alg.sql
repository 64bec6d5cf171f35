-- The algorithm a client's ID tokens are signed with (OIDC Registration §2
-- `id_token_signed_response_alg`); NULL means the deployment's default (RS256).
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT;
