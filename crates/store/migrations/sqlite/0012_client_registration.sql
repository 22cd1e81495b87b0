-- Clients registered without an operator (docs/design/oidc-provider.md, "Registration"):
-- dynamic registration (RFC 7591/7592) and Client ID Metadata Documents, beside their
-- oauth_clients row; and the initial access tokens an operator hands out. Tokens are stored
-- only as the hex SHA-256 of their 256 random bits.

CREATE TABLE oauth_client_registrations (
    client_id         TEXT PRIMARY KEY NOT NULL REFERENCES oauth_clients (client_id),
    source            TEXT NOT NULL,
    metadata          TEXT NOT NULL,
    access_token_hash TEXT,
    refresh_after     INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE oauth_initial_access_tokens (
    id         BLOB PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    max_uses   INTEGER,
    uses       INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
