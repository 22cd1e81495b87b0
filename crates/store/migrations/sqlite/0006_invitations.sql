-- Pending invitations (docs/design/nominal-surface.md): an existing account preregistered into
-- an org joins it only at its next sign-in. One row per (org, user); a new preregistration
-- renews it.
CREATE TABLE invitations (
    org_id      BLOB NOT NULL REFERENCES orgs (id),
    user_id     BLOB NOT NULL REFERENCES users (id),
    roles       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    invited_by  BLOB REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    revoked_at  INTEGER,
    PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX invitations_user_idx ON invitations (user_id);
