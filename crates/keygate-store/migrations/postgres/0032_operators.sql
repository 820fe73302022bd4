-- Operators of the admin console (docs/console.md) and their sessions.
-- A password is kept as its Argon2id hash, the TOTP secret sealed under
-- the master key; last_totp_step makes each code work once. tenant_id NULL
-- means every tenant. A session is kept as the SHA-256 of its cookie.
CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant_id TEXT,
    totp_secret_sealed TEXT,
    totp_confirmed BIGINT NOT NULL DEFAULT 0,
    last_totp_step BIGINT,
    created_at BIGINT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE operator_sessions (
    id_hash TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    mfa_passed BIGINT NOT NULL DEFAULT 0,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_by_expiry ON operator_sessions (expires_at);
-- The dashboard counts grants (authorization codes issued) per hour.
CREATE INDEX grants_by_created ON grants (created_at)
