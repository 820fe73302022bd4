-- The absolute lifetime of a client's refresh-token families, counted from
-- the grant's creation (rotation never extends it). Existing clients get
-- the default, 90 days.
ALTER TABLE clients ADD COLUMN refresh_token_max_ttl BIGINT NOT NULL DEFAULT 7776000
