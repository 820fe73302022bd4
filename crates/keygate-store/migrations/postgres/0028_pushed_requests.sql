-- Pushed authorization requests (RFC 9126): the pushed parameters under
-- the SHA-256 of their request_uri; opened by the first /authorize (which
-- extends expires_at to a sign-in's length), used once when the code is
-- issued, swept once expired.
CREATE TABLE pushed_requests (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    opened_at BIGINT,
    used_at BIGINT
);
CREATE INDEX pushed_requests_by_expiry ON pushed_requests (expires_at)
