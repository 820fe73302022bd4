-- Audit events (docs/events.md): append-only; id is ordered by time, so
-- newest first is id descending; swept once past expires_at (the retention
-- when written).
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT,
    subject TEXT,
    detail TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant_id, id);
CREATE INDEX events_by_expiry ON events (expires_at)
