-- People who sign in. `id` is the OIDC `sub`: stable and never reused. Usernames are stored
-- normalised (lower case) by the application, so a plain unique index suffices on both backends.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    display_name   TEXT,
    -- argon2id PHC string; NULL means the user cannot sign in with a password
    password_hash  TEXT,
    -- extra claims released into ID tokens and userinfo
    claims         TEXT NOT NULL DEFAULT '{}',
    disabled       INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX users_email ON users (email);
