-- How the person signed in for the authorization code a refresh-token family came from (RFC 8176
-- method names, a JSON list such as '["pwd","otp"]'), kept across rotation, so that an ID token
-- issued at a refresh carries the `amr` and `acr` of that original authentication
-- (OIDC Core §12.2). NULL for a token stored before this column: its methods were never recorded,
-- and its refreshed ID tokens omit `amr` and `acr` rather than claim a method nobody saw.
ALTER TABLE refresh_tokens ADD COLUMN auth_methods JSONB;
