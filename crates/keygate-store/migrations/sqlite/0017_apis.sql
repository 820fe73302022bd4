-- APIs (resource servers) of a tenant: tokens for one carry its identifier
-- as `aud` (RFC 9068) and only the scopes it defines (space-separated).
CREATE TABLE apis (
    tenant_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_token_ttl INTEGER,
    signing_alg TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, identifier)
);
-- The scopes of an API a client may get for itself (client_credentials).
CREATE TABLE client_grants (
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    api TEXT NOT NULL,
    scopes TEXT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, api)
);
-- The API a grant's tokens are for (`resource` or `audience` at
-- /authorize); NULL: the client's own (the RFC 9068 default).
ALTER TABLE grants ADD COLUMN resource TEXT
