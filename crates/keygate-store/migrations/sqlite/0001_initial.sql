CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE tenant_domains (
    origin TEXT PRIMARY KEY,
    authority TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE
);
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    public INTEGER NOT NULL,
    secret_hash TEXT,
    auth_method TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    refresh_policy TEXT NOT NULL,
    id_token_ttl INTEGER NOT NULL,
    access_token_ttl INTEGER NOT NULL,
    journeys_api INTEGER NOT NULL,
    web_origins TEXT NOT NULL,
    signing_alg TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX clients_by_tenant_name ON clients (tenant_id, name);
CREATE TABLE client_web_origins (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (client_id, origin)
);
CREATE INDEX web_origins_by_tenant ON client_web_origins (tenant_id, origin);
CREATE TABLE users (
    sub TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_verified INTEGER NOT NULL,
    name TEXT,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alg TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sealed_private TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at INTEGER,
    UNIQUE (tenant_id, alg, seq)
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    redirect_uri TEXT NOT NULL,
    redirect_uri_sent INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    code_expires_at INTEGER NOT NULL,
    code_consumed_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX grants_by_code_expiry ON grants (code_expires_at);
CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX refresh_by_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_by_expiry ON refresh_tokens (expires_at);
CREATE TABLE revoked_jtis (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_jtis_by_expiry ON revoked_jtis (expires_at);
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);
CREATE INDEX rate_limits_by_window ON rate_limits (window_start)
