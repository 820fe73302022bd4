-- The admin API: its tokens (only their SHA-256), and the indexes that keep
-- deleting a client, a user or a tenant (revoking grants, ending sessions)
-- and paging through clients and users cheap.
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX grants_by_client ON grants (tenant_id, client_id);
CREATE INDEX grants_by_user ON grants (tenant_id, user_sub);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_sub);
CREATE INDEX clients_by_tenant ON clients (tenant_id, id);
CREATE INDEX users_by_tenant ON users (tenant_id, sub)
