-- People who sign in. `id` is the OIDC `sub`: stable and never reused. Usernames are stored
-- normalised (lower case) by the application, so a plain unique index suffices on both backends.
CREATE TABLE users (
    id             UUID PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    display_name   TEXT,
    -- argon2id PHC string; NULL means the user cannot sign in with a password
    password_hash  TEXT,
    -- extra claims released into ID tokens and userinfo
    claims         JSONB NOT NULL DEFAULT '{}',
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_email ON users (email);
