-- Portcullis store schema, SQLite flavour.
-- UUIDs are 16-byte BLOBs (they compare bytewise, like PostgreSQL's uuid); timestamps are
-- INTEGER microseconds since the Unix epoch (fixed width, so they sort and compare correctly);
-- booleans are INTEGER 0/1; JSON documents are TEXT. Text compares with the BINARY collation,
-- matching the "C" collation used on the PostgreSQL side.

CREATE TABLE regions (
    id          TEXT PRIMARY KEY NOT NULL,
    api_host    TEXT NOT NULL,
    sig_host    TEXT NOT NULL,
    static_host TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id                      BLOB PRIMARY KEY NOT NULL,
    email                   TEXT NOT NULL,
    email_norm              TEXT NOT NULL,
    display_name            TEXT NOT NULL,
    name_norm               TEXT NOT NULL,
    avatar_url              TEXT,
    password_hash           TEXT,
    validated_at            INTEGER,
    super_admin             INTEGER NOT NULL DEFAULT 0,
    deactivated             INTEGER NOT NULL DEFAULT 0,
    password_reset_required INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_norm_key ON users (email_norm);
CREATE INDEX users_name_norm_idx ON users (name_norm);

CREATE TABLE orgs (
    id                BLOB PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    display_name      TEXT,
    region_id         TEXT NOT NULL REFERENCES regions (id),
    disabled          INTEGER NOT NULL DEFAULT 0,
    default_workspace BLOB,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX orgs_name_key ON orgs (name);

CREATE TABLE memberships (
    user_id        BLOB NOT NULL REFERENCES users (id),
    org_id         BLOB NOT NULL REFERENCES orgs (id),
    roles          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    deactivated    INTEGER NOT NULL DEFAULT 0,
    deactivated_by BLOB,
    deactivated_at INTEGER,
    last_login_at  INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    removed_at     INTEGER,
    PRIMARY KEY (user_id, org_id)
) STRICT;
CREATE INDEX memberships_org_idx ON memberships (org_id, last_login_at);

CREATE TABLE settings (
    scope_kind TEXT NOT NULL,
    scope_id   BLOB NOT NULL,
    namespace  TEXT NOT NULL,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (scope_kind, scope_id, namespace)
) STRICT;

CREATE TABLE job_permissions (
    org_id BLOB NOT NULL REFERENCES orgs (id),
    role   TEXT NOT NULL,
    perms  TEXT NOT NULL,
    PRIMARY KEY (org_id, role)
) STRICT;

-- org_scope is the org id, or the nil uuid for a deployment-wide entry.
CREATE TABLE allowlist (
    org_scope  BLOB NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_scope, kind, value)
) STRICT;

CREATE TABLE workspaces (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES orgs (id),
    slug         TEXT NOT NULL,
    display_name TEXT,
    symbol       TEXT,
    settings     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX workspaces_org_slug_key ON workspaces (org_id, slug);

CREATE TABLE workspace_grants (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    access       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;
CREATE INDEX workspace_grants_user_idx ON workspace_grants (user_id);

CREATE TABLE resources (
    rid          TEXT PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id),
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX resources_workspace_idx ON resources (workspace_id);

CREATE TABLE external_identities (
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id),
    provider_alias TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX external_identities_user_idx ON external_identities (user_id);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           BLOB NOT NULL REFERENCES users (id),
    org_id            BLOB NOT NULL REFERENCES orgs (id),
    kind              TEXT NOT NULL,
    amr               TEXT NOT NULL,
    actor_id          BLOB,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    idle_timeout_secs INTEGER,
    last_seen_at      INTEGER NOT NULL,
    revoked_at        INTEGER,
    ip                TEXT,
    user_agent        TEXT
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_revoked_idx ON sessions (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE credentials (
    id          BLOB PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id),
    org_id      BLOB NOT NULL REFERENCES orgs (id),
    creator_id  BLOB NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER,
    revoked_by  BLOB
) STRICT;
CREATE UNIQUE INDEX credentials_secret_hash_key ON credentials (secret_hash);
CREATE INDEX credentials_org_user_idx ON credentials (org_id, user_id, created_at);
CREATE INDEX credentials_user_kind_idx ON credentials (user_id, kind, created_at);
CREATE INDEX credentials_revoked_idx ON credentials (id) WHERE revoked_at IS NOT NULL;

CREATE TABLE keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    purpose        TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    public         BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER
) STRICT;
CREATE INDEX keys_purpose_idx ON keys (purpose, created_at);

-- locked_indefinitely: locked until an admin unlocks (throttle_reset).
CREATE TABLE throttle (
    key                 TEXT PRIMARY KEY NOT NULL,
    failures            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    locked_until        INTEGER,
    locked_indefinitely INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE revocation_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         BLOB NOT NULL,
    at         INTEGER NOT NULL,
    actor      BLOB,
    action     TEXT NOT NULL,
    target     TEXT,
    outcome    TEXT NOT NULL,
    ip         TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX audit_events_id_key ON audit_events (id);
CREATE INDEX audit_events_at_idx ON audit_events (at, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, at);
