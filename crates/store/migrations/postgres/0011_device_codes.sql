-- The device authorization grant (RFC 8628; docs/design/oidc-provider.md "Device flow").
-- device_code_hash is the hex SHA-256 of the device code (256 random bits); user_code_hash the
-- hex HMAC-SHA256 of the normalised user code under a key derived from the master key (8
-- letters of 20 are too few to keep a plain hash secret). Both are unique; a user code drawn
-- twice is drawn again. decision is NULL (pending), 'approved' or 'denied'; the approval's
-- columns are set with it. Polls are compare-and-set on `polls`, so slow_down holds across
-- nodes; consumed_at is set by the one redemption that wins.
CREATE TABLE oauth_device_codes (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (client_id),
    scopes           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    interval_secs    BIGINT NOT NULL,
    polls            BIGINT NOT NULL,
    last_polled_at   TIMESTAMPTZ,
    decision         TEXT,
    decided_at       TIMESTAMPTZ,
    user_id          UUID REFERENCES users (id),
    org_id           UUID REFERENCES orgs (id),
    browser_session  TEXT,
    auth_time        TIMESTAMPTZ,
    amr              TEXT,
    acr              TEXT,
    consumed_at      TIMESTAMPTZ,
    grant_session    TEXT
);
CREATE INDEX oauth_device_codes_client_idx ON oauth_device_codes (client_id);
CREATE INDEX oauth_device_codes_expires_idx ON oauth_device_codes (expires_at);

-- Wrong user codes typed at /device, counted per client network and server-wide in windows
-- (key: 'ip:<address or /64>' or 'all'), so guessing is limited across nodes.
CREATE TABLE oauth_device_guesses (
    key         TEXT PRIMARY KEY NOT NULL,
    attempts    BIGINT NOT NULL,
    window_ends TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_device_guesses_window_idx ON oauth_device_guesses (window_ends);
