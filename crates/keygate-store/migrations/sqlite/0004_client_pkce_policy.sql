-- Which PKCE methods a client may use (docs/cli.md `--pkce`): `s256`, the
-- default (RFC 9700 2.1.1), or `plain-allowed`. Existing clients get the
-- default, so a public client that sent `plain` must be updated to
-- `plain-allowed` (admin API) to keep working.
ALTER TABLE clients ADD COLUMN pkce_policy TEXT NOT NULL DEFAULT 's256'
