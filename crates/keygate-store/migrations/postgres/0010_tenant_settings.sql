-- A tenant's settings (docs/cli.md `keygate tenant update`): whether people
-- may register themselves (open|closed), whether they must verify their
-- e-mail address (off|optional|required) and whether they use a second
-- factor (off|optional|required).
ALTER TABLE tenants ADD COLUMN registration TEXT NOT NULL DEFAULT 'open';
ALTER TABLE tenants ADD COLUMN verify_email TEXT NOT NULL DEFAULT 'optional';
ALTER TABLE tenants ADD COLUMN mfa TEXT NOT NULL DEFAULT 'optional'
