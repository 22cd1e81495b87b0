-- The OpenID provider (docs/design/oidc-provider.md). Client secrets, authorization codes and
-- refresh tokens are stored only as the hex SHA-256 of the secret. No table references
-- `sessions`: SQLite rebuilds a table to change a column (as 0004 did), which a foreign key into
-- it would block; the store checks those references itself.

-- Registered clients. The columns the store queries are columns; every other setting is one
-- JSON document, never queried inside.
CREATE TABLE oauth_clients (
    client_id              TEXT PRIMARY KEY NOT NULL,
    org_id                 BLOB REFERENCES orgs (id),
    settings               TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    declarative            INTEGER NOT NULL,
    disabled_at            INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_clients_org_idx ON oauth_clients (org_id, client_id);

-- Live and grace-period secrets; a rotated one works until expires_at.
CREATE TABLE oauth_client_secrets (
    client_id  TEXT NOT NULL REFERENCES oauth_clients (client_id),
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (client_id, hash)
) STRICT;

-- Authorization codes, single use: consumed_at is set by the one redemption that wins.
CREATE TABLE oauth_codes (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES oauth_clients (client_id),
    browser_session TEXT NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id),
    org_id          BLOB REFERENCES orgs (id),
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       INTEGER NOT NULL,
    amr             TEXT NOT NULL,
    acr             TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    consumed_at     INTEGER,
    grant_session   TEXT
) STRICT;
CREATE INDEX oauth_codes_client_idx ON oauth_codes (client_id);
CREATE INDEX oauth_codes_expires_idx ON oauth_codes (expires_at);

-- Refresh tokens; a family is one grant session.
CREATE TABLE oauth_refresh_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    grant_session TEXT NOT NULL,
    client_id     TEXT NOT NULL REFERENCES oauth_clients (client_id),
    user_id       BLOB NOT NULL REFERENCES users (id),
    org_id        BLOB REFERENCES orgs (id),
    scopes        TEXT NOT NULL,
    auth_time     INTEGER NOT NULL,
    amr           TEXT NOT NULL,
    acr           TEXT,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    rotated_at    INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX oauth_refresh_tokens_session_idx ON oauth_refresh_tokens (grant_session);
CREATE INDEX oauth_refresh_tokens_client_idx ON oauth_refresh_tokens (client_id);
CREATE INDEX oauth_refresh_tokens_expires_idx ON oauth_refresh_tokens (expires_at);

-- Remembered consents, one per (user, client).
CREATE TABLE oauth_consents (
    user_id    BLOB NOT NULL REFERENCES users (id),
    client_id  TEXT NOT NULL REFERENCES oauth_clients (client_id),
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;
CREATE INDEX oauth_consents_client_idx ON oauth_consents (client_id);

-- The back-channel logout outbox. No reference to the client: the notices of a deleted
-- client's sessions still go out (the row keeps the URI). given_up_at: no more attempts.
CREATE TABLE logout_notices (
    id              BLOB PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    uri             TEXT NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id),
    sid             TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    given_up_at     INTEGER,
    last_error      TEXT
) STRICT;
CREATE INDEX logout_notices_due_idx ON logout_notices (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX logout_notices_client_idx ON logout_notices (client_id, created_at);

-- Session.grant: the tokens one client got in one browser sign-in (client_id NULL: none).
ALTER TABLE sessions ADD COLUMN grant_client_id TEXT;
ALTER TABLE sessions ADD COLUMN grant_parent_id TEXT;
ALTER TABLE sessions ADD COLUMN grant_offline INTEGER NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_grant_parent_idx ON sessions (grant_parent_id)
    WHERE grant_parent_id IS NOT NULL;
CREATE INDEX sessions_grant_client_idx ON sessions (grant_client_id)
    WHERE grant_client_id IS NOT NULL;
