-- A disabled person cannot sign in (the admin API's `disabled`).
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- The live, unredeemed codes of one person and client, counted before a
-- new code is issued (the cap on outstanding codes).
CREATE INDEX grants_outstanding ON grants (tenant_id, user_sub, client_id, code_expires_at) WHERE code_consumed_at IS NULL
