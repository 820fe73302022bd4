-- Clients that register themselves (RFC 7591) and Client ID Metadata
-- Documents, per tenant; both off by default.
ALTER TABLE tenants ADD COLUMN dynamic_registration TEXT NOT NULL DEFAULT 'off';
ALTER TABLE tenants ADD COLUMN client_id_metadata_documents TEXT NOT NULL DEFAULT 'off';
-- A registered client's registration access token (RFC 7592), as its
-- SHA-256; NULL for clients made by operators.
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
-- Initial access tokens of a tenant's registration endpoint
-- (`--dynamic-registration token`), as their SHA-256.
CREATE TABLE registration_tokens (
    hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
)
;
CREATE INDEX registration_tokens_by_expiry ON registration_tokens (expires_at);
-- When a registered client first got a code or a token: the sweeper
-- deletes registered clients never used within 30 days.
ALTER TABLE clients ADD COLUMN first_used_at INTEGER;
CREATE INDEX clients_registered_by_created ON clients (created_at)
    WHERE registration_token_hash IS NOT NULL AND first_used_at IS NULL
