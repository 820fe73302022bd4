-- DPoP (RFC 9449): the key (its RFC 7638 thumbprint) a grant is bound to,
-- from the authorization request's dpop_jkt (section 10) or a public
-- client's first proof at the token endpoint (section 5).
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT
