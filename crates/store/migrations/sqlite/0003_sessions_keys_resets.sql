-- Emergency revocation of a signing key (`admin keys revoke`): from then on it verifies nothing.
ALTER TABLE keys ADD COLUMN revoked_at INTEGER;

-- One-time password reset codes (`admin user force-password-reset`): only the SHA-256 of the
-- code is stored, one live code per user, deleted when redeemed.
CREATE TABLE password_reset_codes (
    user_id    BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
