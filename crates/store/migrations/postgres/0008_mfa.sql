-- Multi-factor sign-in (docs/design/mfa.md).

-- A user's second factors. One table for every kind so a sign-in reads one row set: `totp`
-- keeps its secret sealed under the master key in `secret` and the last accepted time step in
-- `counter` (a code is accepted once: the step only moves forward); `webauthn` keeps its
-- credential id and public credential (JSON) and the authenticator's sign counter in
-- `counter`. confirmed_at NULL: an enrolment not yet confirmed, never usable.
CREATE TABLE user_factors (
    id            UUID PRIMARY KEY NOT NULL,
    user_id       UUID NOT NULL REFERENCES users (id),
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret        BYTEA,
    credential_id TEXT,
    credential    TEXT,
    counter       BIGINT NOT NULL DEFAULT 0,
    confirmed_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX user_factors_user_idx ON user_factors (user_id, created_at);
CREATE UNIQUE INDEX user_factors_credential_idx ON user_factors (credential_id)
    WHERE credential_id IS NOT NULL;

-- Single-use recovery codes: only the SHA-256 of each code; used_at set by the one use.
CREATE TABLE recovery_codes (
    user_id    UUID NOT NULL REFERENCES users (id),
    code_hash  BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- Per-org policy; an org without a row has the default (optional, TOTP allowed).
CREATE TABLE org_mfa_policies (
    org_id        UUID PRIMARY KEY NOT NULL REFERENCES orgs (id),
    mfa           TEXT NOT NULL,
    passkeys_only BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- A sign-in stopped after its first factor, waiting for the second (or for an enrolment):
-- key_hash is the hex SHA-256 of the handle given to the client; single use (deleted by the
-- completion that wins); `login` is how the sign-in continues (JSON).
CREATE TABLE mfa_challenges (
    key_hash   TEXT PRIMARY KEY NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    login      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);

-- The last re-authentication on a session (the "recent authentication" rule): when, and the
-- methods it verified (JSON array of RFC 8176 values). No foreign key into `sessions` (0007).
CREATE TABLE session_reauth (
    session_id  TEXT PRIMARY KEY NOT NULL,
    verified_at TIMESTAMPTZ NOT NULL,
    methods     TEXT NOT NULL
);
