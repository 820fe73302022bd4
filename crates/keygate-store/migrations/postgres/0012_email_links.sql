-- E-mail links: a link that verifies the person's address ('verify') or
-- moves them to a new one ('change'). Only the SHA-256 of the token is
-- stored; a link works once (`used_at`) and until `expires_at`.
CREATE TABLE email_links (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    email TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX email_links_by_expiry ON email_links (expires_at);
CREATE INDEX email_links_by_user ON email_links (tenant_id, user_sub)
