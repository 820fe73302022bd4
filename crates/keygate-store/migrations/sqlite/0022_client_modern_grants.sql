-- Per-client settings of the modern grants (docs/cli.md, client create):
-- keys for private_key_jwt (by value or by reference), the sealed secret
-- of client_secret_jwt clients, DPoP and PAR requirements, the audiences
-- token exchange may ask for, and the back-channel logout endpoint.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN secret_sealed TEXT;
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN exchange_audiences TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT
