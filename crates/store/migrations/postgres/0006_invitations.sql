-- Pending invitations (docs/design/nominal-surface.md): an existing account preregistered into
-- an org joins it only at its next sign-in. One row per (org, user); a new preregistration
-- renews it.
CREATE TABLE invitations (
    org_id      UUID NOT NULL REFERENCES orgs (id),
    user_id     UUID NOT NULL REFERENCES users (id),
    roles       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    invited_by  UUID REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX invitations_user_idx ON invitations (user_id);
