-- Device authorizations (RFC 8628): found by the SHA-256 of the device
-- code or the keyed hash of the user code (neither code is stored); one
-- live row per user code; swept once expired. `grant_id` names the grant
-- made when the person allowed it, whose code the next poll redeems.
CREATE TABLE device_codes (
    hash TEXT PRIMARY KEY,
    user_code_hash TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    poll_interval INTEGER NOT NULL,
    last_polled_at INTEGER,
    status TEXT NOT NULL,
    user_sub TEXT,
    grant_id TEXT,
    answered_at INTEGER
);
CREATE UNIQUE INDEX device_codes_by_user_code ON device_codes (user_code_hash);
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at)
