-- Webhooks (docs/webhooks.md): a tenant's HTTP endpoints told of its audit
-- events, signed per the Standard Webhooks specification. The signing
-- secret is sealed under the master key (signing needs it back). `types`
-- lists the event types subscribed to between spaces (' a b '), or is ''
-- for every type.
CREATE TABLE webhooks (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    types TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- One delivery per event and subscribed webhook, written by the same
-- write as the event. Its id is the Standard Webhooks message id
-- (`webhook-id`), the same on every attempt. Any node claims a batch with
-- a lease (`claim`, `claimed_until`), posts each one, and marks it
-- delivered, given up (both set `finished_at`) or due again
-- (`next_attempt_at`). The sweeper deletes finished rows 30 days later.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claim TEXT,
    claimed_until INTEGER,
    delivered_at INTEGER,
    given_up_at INTEGER,
    finished_at INTEGER,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_by_next_attempt ON webhook_deliveries (next_attempt_at) WHERE finished_at IS NULL;
CREATE INDEX webhook_deliveries_by_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_claim ON webhook_deliveries (claim);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (tenant_id, webhook_id, created_at)
