-- What a creating `/v1` request with an `Idempotency-Key` answered, committed in the same
-- transaction as the row it created, so a retry replays it even after Redis and the database
-- restart. The key is kept only as a digest, the request only as a digest, and the response
-- (which may hold a client secret) sealed under a key derived from the key-encryption key, the
-- caller and the raw key.
CREATE TABLE idempotency_records (
    caller          TEXT NOT NULL,
    key_digest      TEXT NOT NULL,
    request_digest  TEXT NOT NULL,
    status          INTEGER NOT NULL,
    sealed_response BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (caller, key_digest)
) STRICT;
CREATE INDEX idempotency_records_expires_at ON idempotency_records (expires_at);
