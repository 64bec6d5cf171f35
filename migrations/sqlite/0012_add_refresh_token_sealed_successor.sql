-- The grace window of a rotated refresh token (RFC 9700 §4.14.2): the rotation keeps its
-- successor in the rotated token's row, sealed (AES-256-GCM) under a key derived from the rotated
-- token, which only its holder has. A client that lost the response presents the rotated token
-- again and gets the same successor on any instance, whatever the ephemeral store has lost.
ALTER TABLE refresh_tokens ADD COLUMN sealed_successor BLOB;
