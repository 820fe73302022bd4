-- What a person allowed a third-party client: the scopes, per API
-- (resource '' for the client's own tokens). Asked again for scopes not
-- covered and for prompt=consent; revoked on the account page.
CREATE TABLE consents (
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    client_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_sub, client_id, resource)
);
-- A client people must allow before it gets a code (`--third-party`).
ALTER TABLE clients ADD COLUMN third_party INTEGER NOT NULL DEFAULT 0
