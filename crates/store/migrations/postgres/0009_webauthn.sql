-- Passkeys (docs/design/mfa.md "Passkeys"): WebAuthn ceremonies in progress.
-- key_hash is the hex SHA-256 of the ceremony handle given to the client; single use (the
-- finish that deletes the row wins); `state` is the relying-party library's ceremony state
-- (JSON: the challenge and what it allows), kept server-side so any node can finish.
-- user_id is NULL for a passwordless sign-in (the user is known only from the answer);
-- `binding` ties the ceremony to the session or stopped sign-in that started it.
CREATE TABLE webauthn_ceremonies (
    key_hash   TEXT PRIMARY KEY NOT NULL,
    user_id    UUID REFERENCES users (id),
    purpose    TEXT NOT NULL,
    binding    TEXT,
    state      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_idx ON webauthn_ceremonies (expires_at);
