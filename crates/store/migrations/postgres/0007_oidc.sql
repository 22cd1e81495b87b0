-- The OpenID provider (docs/design/oidc-provider.md). Client secrets, authorization codes and
-- refresh tokens are stored only as the hex SHA-256 of the secret. No table references
-- `sessions`: SQLite rebuilds a table to change a column (as 0004 did), which a foreign key into
-- it would block; the store checks those references itself.

-- Registered clients. The columns the store queries are columns; every other setting is one
-- JSON document, never queried inside.
CREATE TABLE oauth_clients (
    client_id              TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    org_id                 UUID REFERENCES orgs (id),
    settings               TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    declarative            BOOLEAN NOT NULL,
    disabled_at            TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_clients_org_idx ON oauth_clients (org_id, client_id);

-- Live and grace-period secrets; a rotated one works until expires_at.
CREATE TABLE oauth_client_secrets (
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (client_id),
    hash       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    PRIMARY KEY (client_id, hash)
);

-- Authorization codes, single use: consumed_at is set by the one redemption that wins.
CREATE TABLE oauth_codes (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (client_id),
    browser_session TEXT NOT NULL,
    user_id         UUID NOT NULL REFERENCES users (id),
    org_id          UUID REFERENCES orgs (id),
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       TIMESTAMPTZ NOT NULL,
    amr             TEXT NOT NULL,
    acr             TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    consumed_at     TIMESTAMPTZ,
    grant_session   TEXT
);
CREATE INDEX oauth_codes_client_idx ON oauth_codes (client_id);
CREATE INDEX oauth_codes_expires_idx ON oauth_codes (expires_at);

-- Refresh tokens; a family is one grant session.
CREATE TABLE oauth_refresh_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    grant_session TEXT NOT NULL,
    client_id     TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (client_id),
    user_id       UUID NOT NULL REFERENCES users (id),
    org_id        UUID REFERENCES orgs (id),
    scopes        TEXT NOT NULL,
    auth_time     TIMESTAMPTZ NOT NULL,
    amr           TEXT NOT NULL,
    acr           TEXT,
    issued_at     TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    rotated_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX oauth_refresh_tokens_session_idx ON oauth_refresh_tokens (grant_session);
CREATE INDEX oauth_refresh_tokens_client_idx ON oauth_refresh_tokens (client_id);
CREATE INDEX oauth_refresh_tokens_expires_idx ON oauth_refresh_tokens (expires_at);

-- Remembered consents, one per (user, client).
CREATE TABLE oauth_consents (
    user_id    UUID NOT NULL REFERENCES users (id),
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (client_id),
    scopes     TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_consents_client_idx ON oauth_consents (client_id);

-- The back-channel logout outbox. No reference to the client: the notices of a deleted
-- client's sessions still go out (the row keeps the URI). given_up_at: no more attempts.
CREATE TABLE logout_notices (
    id              UUID PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    uri             TEXT NOT NULL,
    user_id         UUID NOT NULL REFERENCES users (id),
    sid             TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    given_up_at     TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX logout_notices_due_idx ON logout_notices (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX logout_notices_client_idx ON logout_notices (client_id, created_at);

-- Session.grant: the tokens one client got in one browser sign-in (client_id NULL: none).
ALTER TABLE sessions ADD COLUMN grant_client_id TEXT;
ALTER TABLE sessions ADD COLUMN grant_parent_id TEXT;
ALTER TABLE sessions ADD COLUMN grant_offline BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_grant_parent_idx ON sessions (grant_parent_id)
    WHERE grant_parent_id IS NOT NULL;
CREATE INDEX sessions_grant_client_idx ON sessions (grant_client_id)
    WHERE grant_client_id IS NOT NULL;
