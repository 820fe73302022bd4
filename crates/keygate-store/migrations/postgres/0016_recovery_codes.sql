-- Recovery codes: ten single-use codes per person with a second factor,
-- shown once. Only the SHA-256 of each (normalized, bound to the person)
-- is stored; a code is used once by one conditional UPDATE (used_at).
CREATE TABLE recovery_codes (
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (tenant_id, user_sub, hash)
)
