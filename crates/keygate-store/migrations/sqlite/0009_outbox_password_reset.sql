-- Messages to deliver later (e-mail): any node with a transport claims a
-- batch with a lease (`claimed_until`), sends, and marks each sent or
-- failed (with the time of its next attempt). The sweeper deletes sent
-- messages a day after sending.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    claim TEXT,
    sent_at INTEGER
);
CREATE INDEX outbox_by_next_attempt ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_by_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_by_claim ON outbox (claim);
-- Password-reset links: only the SHA-256 of the token is stored; a link
-- works once (`used_at`) and until `expires_at`.
CREATE TABLE reset_tokens (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX reset_tokens_by_expiry ON reset_tokens (expires_at);
CREATE INDEX reset_tokens_by_user ON reset_tokens (tenant_id, user_sub)
