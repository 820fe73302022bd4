-- Passkeys (WebAuthn): the credential as webauthn-rs serialises it (JSON:
-- its public key, counter and backup state), found at sign-in by its
-- credential id (base64url), unique per tenant. A person's WebAuthn user
-- handle is derived from the tenant and the person, so it is not stored.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    passkey TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    backup_eligible BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX passkeys_by_credential ON passkeys (tenant_id, credential_id)
;
CREATE INDEX passkeys_by_user ON passkeys (tenant_id, user_sub)
;
-- The state of a WebAuthn ceremony between its start and its finish
-- (webauthn-rs's registration or authentication state, JSON), under the
-- SHA-256 of its handle: taken once (one conditional DELETE), within
-- expires_at (5 minutes), by any node.
CREATE TABLE passkey_ceremonies (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_sub TEXT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at)
