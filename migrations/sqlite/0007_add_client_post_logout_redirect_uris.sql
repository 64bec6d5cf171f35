-- Where a client may send a browser after RP-Initiated Logout 1.0 §3, matched like redirect URIs.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
