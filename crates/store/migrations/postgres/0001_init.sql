-- Portcullis store schema, PostgreSQL flavour.
-- Native UUID, TIMESTAMPTZ (microsecond precision), BOOLEAN and BYTEA. JSON documents are TEXT
-- (kept verbatim, never queried inside). Text columns that are sorted or compared use the "C"
-- collation, so ordering is bytewise and identical to SQLite's BINARY collation.

CREATE TABLE regions (
    id          TEXT PRIMARY KEY NOT NULL,
    api_host    TEXT NOT NULL,
    sig_host    TEXT NOT NULL,
    static_host TEXT NOT NULL
);

CREATE TABLE users (
    id                      UUID PRIMARY KEY NOT NULL,
    email                   TEXT NOT NULL,
    email_norm              TEXT COLLATE "C" NOT NULL,
    display_name            TEXT NOT NULL,
    name_norm               TEXT COLLATE "C" NOT NULL,
    avatar_url              TEXT,
    password_hash           TEXT,
    validated_at            TIMESTAMPTZ,
    super_admin             BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated             BOOLEAN NOT NULL DEFAULT FALSE,
    password_reset_required BOOLEAN NOT NULL DEFAULT FALSE,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_norm_key ON users (email_norm);
CREATE INDEX users_name_norm_idx ON users (name_norm);

CREATE TABLE orgs (
    id                UUID PRIMARY KEY NOT NULL,
    name              TEXT COLLATE "C" NOT NULL,
    display_name      TEXT,
    region_id         TEXT NOT NULL REFERENCES regions (id),
    disabled          BOOLEAN NOT NULL DEFAULT FALSE,
    default_workspace UUID,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX orgs_name_key ON orgs (name);

CREATE TABLE memberships (
    user_id        UUID NOT NULL REFERENCES users (id),
    org_id         UUID NOT NULL REFERENCES orgs (id),
    roles          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    deactivated    BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated_by UUID,
    deactivated_at TIMESTAMPTZ,
    last_login_at  TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    removed_at     TIMESTAMPTZ,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_org_idx ON memberships (org_id, last_login_at);

CREATE TABLE settings (
    scope_kind TEXT NOT NULL,
    scope_id   UUID NOT NULL,
    namespace  TEXT NOT NULL,
    doc        TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope_kind, scope_id, namespace)
);

CREATE TABLE job_permissions (
    org_id UUID NOT NULL REFERENCES orgs (id),
    role   TEXT NOT NULL,
    perms  TEXT NOT NULL,
    PRIMARY KEY (org_id, role)
);

-- org_scope is the org id, or the nil uuid for a deployment-wide entry.
CREATE TABLE allowlist (
    org_scope  UUID NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_scope, kind, value)
);

CREATE TABLE workspaces (
    id           UUID PRIMARY KEY NOT NULL,
    org_id       UUID NOT NULL REFERENCES orgs (id),
    slug         TEXT COLLATE "C" NOT NULL,
    display_name TEXT,
    symbol       TEXT,
    settings     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX workspaces_org_slug_key ON workspaces (org_id, slug);

CREATE TABLE workspace_grants (
    workspace_id UUID NOT NULL REFERENCES workspaces (id),
    user_id      UUID NOT NULL REFERENCES users (id),
    access       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_grants_user_idx ON workspace_grants (user_id);

CREATE TABLE resources (
    rid          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    workspace_id UUID NOT NULL REFERENCES workspaces (id),
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX resources_workspace_idx ON resources (workspace_id);

CREATE TABLE external_identities (
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        UUID NOT NULL REFERENCES users (id),
    provider_alias TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_user_idx ON external_identities (user_id);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           UUID NOT NULL REFERENCES users (id),
    org_id            UUID NOT NULL REFERENCES orgs (id),
    kind              TEXT NOT NULL,
    amr               TEXT NOT NULL,
    actor_id          UUID,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    idle_timeout_secs BIGINT,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    revoked_at        TIMESTAMPTZ,
    ip                TEXT,
    user_agent        TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_revoked_idx ON sessions (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE credentials (
    id          UUID PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    user_id     UUID NOT NULL REFERENCES users (id),
    org_id      UUID NOT NULL REFERENCES orgs (id),
    creator_id  UUID NOT NULL REFERENCES users (id),
    name        TEXT COLLATE "C" NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    revoked_by  UUID
);
CREATE UNIQUE INDEX credentials_secret_hash_key ON credentials (secret_hash);
CREATE INDEX credentials_org_user_idx ON credentials (org_id, user_id, created_at);
CREATE INDEX credentials_user_kind_idx ON credentials (user_id, kind, created_at);
CREATE INDEX credentials_revoked_idx ON credentials (id) WHERE revoked_at IS NOT NULL;

CREATE TABLE keys (
    kid            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    purpose        TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    sealed_private BYTEA NOT NULL,
    public         BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    retired_at     TIMESTAMPTZ
);
CREATE INDEX keys_purpose_idx ON keys (purpose, created_at);

-- locked_indefinitely: locked until an admin unlocks (throttle_reset).
CREATE TABLE throttle (
    key                 TEXT PRIMARY KEY NOT NULL,
    failures            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ NOT NULL,
    locked_until        TIMESTAMPTZ,
    locked_indefinitely BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE revocation_events (
    seq        BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_events (
    seq        BIGSERIAL PRIMARY KEY,
    id         UUID NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    actor      UUID,
    action     TEXT NOT NULL,
    target     TEXT,
    outcome    TEXT NOT NULL,
    ip         TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL
);
CREATE UNIQUE INDEX audit_events_id_key ON audit_events (id);
CREATE INDEX audit_events_at_idx ON audit_events (at, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, at);
