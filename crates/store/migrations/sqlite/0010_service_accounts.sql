-- Service accounts (docs/design/oidc-provider.md "Client credentials"): the non-person identity
-- a confidential client with the client_credentials grant acts as in its org, with roles there.
-- `id` is the tokens' `sub`; the revocation view treats it as a subject like a user's id.
-- A client keeps one live account (retired_at NULL); deleting the client retires it, so a
-- client created again under the same id gets a new subject and the old tokens stay dead.
-- No foreign key to oauth_clients: a retired account outlives its client.
-- tokens_not_before: tokens issued before it are refused (set when the client is disabled).
CREATE TABLE service_accounts (
    id                BLOB PRIMARY KEY NOT NULL,
    client_id         TEXT NOT NULL,
    org_id            BLOB NOT NULL REFERENCES orgs (id),
    roles             TEXT NOT NULL,
    tokens_not_before INTEGER,
    retired_at        INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX service_accounts_live_client_key ON service_accounts (client_id)
    WHERE retired_at IS NULL;
CREATE INDEX service_accounts_org_idx ON service_accounts (org_id, client_id);
