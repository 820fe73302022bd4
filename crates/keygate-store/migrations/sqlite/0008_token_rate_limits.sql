-- Token-endpoint requests per second per client and node: NULL takes the
-- tenant's setting (for a tenant, the server's default), 0 turns it off.
ALTER TABLE clients ADD COLUMN token_rate_limit INTEGER;
ALTER TABLE tenants ADD COLUMN token_rate_limit INTEGER
