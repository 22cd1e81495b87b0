-- Tokens for a membership, or for an org, issued before these instants are refused, even after
-- the membership is re-added or reactivated or the org re-enabled (tokens-and-revocation.md).
ALTER TABLE memberships ADD COLUMN tokens_not_before INTEGER;
ALTER TABLE orgs ADD COLUMN tokens_not_before INTEGER;
