-- Parsable team settings: one row per (org, key), so one key can be set or cleared without
-- rewriting the others, and a batch is one transaction. `value` is a tagged SettingValue
-- ({"type": ..., "value": ...}) as JSON.
CREATE TABLE team_settings (
    org_id     UUID NOT NULL REFERENCES orgs (id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, key)
);

-- A team's job priority list, replaced as a whole. No row: not configured (LoginResult leaves
-- TeamInfo.priorities unset); a row with `[]`: configured and empty.
CREATE TABLE team_priorities (
    org_id     UUID PRIMARY KEY NOT NULL REFERENCES orgs (id),
    doc        TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Org-wide parsable settings used to live in one document in `settings`; move them here.
INSERT INTO team_settings (org_id, key, value, updated_at)
SELECT s.scope_id, j.key, j.value::text, s.updated_at
FROM settings s,
     jsonb_each(CASE WHEN jsonb_typeof(s.doc::jsonb) = 'object' THEN s.doc::jsonb ELSE '{}'::jsonb END) j
WHERE s.scope_kind = 'org' AND s.namespace = 'parsable' AND jsonb_typeof(j.value) = 'object'
  AND s.scope_id IN (SELECT id FROM orgs);
DELETE FROM settings WHERE scope_kind = 'org' AND namespace = 'parsable';

-- A Parsable team-select login of a user on no team gets a session without an org.
ALTER TABLE sessions ALTER COLUMN org_id DROP NOT NULL;
