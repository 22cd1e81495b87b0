-- Parsable team settings: one row per (org, key), so one key can be set or cleared without
-- rewriting the others, and a batch is one transaction. `value` is a tagged SettingValue
-- ({"type": ..., "value": ...}) as JSON.
CREATE TABLE team_settings (
    org_id     BLOB NOT NULL REFERENCES orgs (id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT;

-- A team's job priority list, replaced as a whole. No row: not configured (LoginResult leaves
-- TeamInfo.priorities unset); a row with `[]`: configured and empty.
CREATE TABLE team_priorities (
    org_id     BLOB PRIMARY KEY NOT NULL REFERENCES orgs (id),
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Org-wide parsable settings used to live in one document in `settings`; move them here.
INSERT INTO team_settings (org_id, key, value, updated_at)
SELECT s.scope_id, j.key, j.value, s.updated_at
FROM settings s, json_each(CASE WHEN json_type(s.doc) = 'object' THEN s.doc ELSE '{}' END) j
WHERE s.scope_kind = 'org' AND s.namespace = 'parsable' AND j.type = 'object'
  AND s.scope_id IN (SELECT id FROM orgs);
DELETE FROM settings WHERE scope_kind = 'org' AND namespace = 'parsable';

-- A Parsable team-select login of a user on no team gets a session without an org: org_id
-- becomes nullable (SQLite needs a table rebuild; no table references sessions).
CREATE TABLE sessions_0004 (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           BLOB NOT NULL REFERENCES users (id),
    org_id            BLOB REFERENCES orgs (id),
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
INSERT INTO sessions_0004 (id, user_id, org_id, kind, amr, actor_id, created_at, expires_at,
                           idle_timeout_secs, last_seen_at, revoked_at, ip, user_agent)
SELECT id, user_id, org_id, kind, amr, actor_id, created_at, expires_at,
       idle_timeout_secs, last_seen_at, revoked_at, ip, user_agent FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_0004 RENAME TO sessions;
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_revoked_idx ON sessions (expires_at) WHERE revoked_at IS NOT NULL;
