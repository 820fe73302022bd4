-- Passkeys of console operators (docs/console.md, "Passkeys"): a second
-- factor beside the authenticator app. The credential as webauthn-rs
-- serialises it (JSON: public key, counter, backup state), found at
-- sign-in by its credential id (base64url), unique across the console.
-- Their ceremonies use passkey_ceremonies (tenant_id '' and kinds
-- starting with "operator-"). Deleted with their operator.
CREATE TABLE operator_passkeys (
    id TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX operator_passkeys_by_operator ON operator_passkeys (operator_id)
