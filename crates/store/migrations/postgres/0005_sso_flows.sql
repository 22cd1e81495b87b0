-- Browser SSO flow state (docs/design/browser-sso.md): single-use start tokens and callback
-- records. key_hash is the hex SHA-256 of the start token or of the OAuth state.
CREATE TABLE sso_flows (
    key_hash      TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    provider      TEXT NOT NULL,
    login_hint    TEXT,
    nonce         TEXT,
    pkce_verifier TEXT,
    binding_hash  TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sso_flows_expires_idx ON sso_flows (expires_at);
