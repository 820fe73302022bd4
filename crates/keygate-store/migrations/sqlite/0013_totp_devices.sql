-- Authenticator apps (TOTP, RFC 6238): the secret sealed under the master
-- key (associated data: the device id); unconfirmed (confirmed_at NULL)
-- until its first correct code; a time step's code is accepted once
-- (last_used_step, raised by one conditional UPDATE).
CREATE TABLE totp_devices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_used_step INTEGER
);
CREATE INDEX totp_devices_by_user ON totp_devices (tenant_id, user_sub)
;
-- Sign-ins waiting for their second factor: only the SHA-256 of the token
-- is stored; finished once (used_at) and before expires_at (5 minutes).
CREATE TABLE mfa_pending (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX mfa_pending_by_expiry ON mfa_pending (expires_at)
