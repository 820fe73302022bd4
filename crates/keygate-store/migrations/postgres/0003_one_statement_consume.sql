-- Consuming a code or refresh token and storing the successor refresh token
-- become one statement: the UPDATE that consumes records the successor's
-- hash and expiry, and these triggers insert it within that statement.
ALTER TABLE grants ADD COLUMN successor_hash TEXT;
ALTER TABLE grants ADD COLUMN successor_expires_at BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN successor_expires_at BIGINT;
CREATE FUNCTION keygate_first_refresh() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN INSERT INTO refresh_tokens (hash, grant_id, tenant_id, client_id, created_at, expires_at) VALUES (NEW.successor_hash, NEW.id, NEW.tenant_id, NEW.client_id, NEW.code_consumed_at, NEW.successor_expires_at); RETURN NULL; END $fn$;
CREATE TRIGGER grants_first_refresh AFTER UPDATE OF code_consumed_at ON grants FOR EACH ROW WHEN (NEW.successor_hash IS NOT NULL AND OLD.code_consumed_at IS NULL) EXECUTE FUNCTION keygate_first_refresh();
CREATE FUNCTION keygate_refresh_successor() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN INSERT INTO refresh_tokens (hash, grant_id, tenant_id, client_id, created_at, expires_at) VALUES (NEW.successor_hash, NEW.grant_id, NEW.tenant_id, NEW.client_id, NEW.consumed_at, NEW.successor_expires_at); RETURN NULL; END $fn$;
CREATE TRIGGER refresh_successor AFTER UPDATE OF consumed_at ON refresh_tokens FOR EACH ROW WHEN (NEW.successor_hash IS NOT NULL AND OLD.consumed_at IS NULL) EXECUTE FUNCTION keygate_refresh_successor()
