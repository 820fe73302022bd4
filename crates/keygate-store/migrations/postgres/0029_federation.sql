-- Upstream identity providers (docs/federation.md): a tenant's upstreams,
-- the upstream identities (iss, sub) linked to its users (each to one user,
-- for good), and the short-lived records of round trips in progress (under
-- the SHA-256 of the random value the browser holds; swept once expired).
CREATE TABLE upstream_idps (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT,
    scopes TEXT NOT NULL,
    authorize_url TEXT,
    token_url TEXT,
    userinfo_url TEXT,
    claims TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX upstream_idps_by_name ON upstream_idps (tenant_id, name);
CREATE TABLE federated_identities (
    tenant_id TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    idp_id TEXT NOT NULL,
    idp_name TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, issuer, subject)
);
CREATE INDEX federated_identities_by_user ON federated_identities (tenant_id, user_sub);
CREATE TABLE federation_states (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX federation_states_by_expiry ON federation_states (expires_at)
