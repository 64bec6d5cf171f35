-- What a person may do to Gatehouse itself: a JSON list of role names (`admin`, `auditor`).
-- Everyone starts with none; the admin API's scopes reach a person's tokens only through one.
ALTER TABLE users ADD COLUMN roles JSONB NOT NULL DEFAULT '[]';
