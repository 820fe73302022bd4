-- How each sign-in was made (RFC 8176 `amr` values, space-separated: pwd,
-- otp, hwk, swk, fed, mfa), kept with the session so a request demanding a
-- second factor can tell whether the session already has one, with the
-- grant so its id_tokens carry `amr` and the `acr` value satisfied, and
-- with a sign-in waiting for its second factor (what was proved so far).
-- Rows from before hold '' (unknown: treated as a password-only sign-in).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN acr TEXT;
ALTER TABLE mfa_pending ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
-- The authorization request a Journeys sign-in waits to finish (its
-- second step names only the token); NULL for the hosted pages, whose
-- forms carry the request.
ALTER TABLE mfa_pending ADD COLUMN request TEXT;
-- A client whose every sign-in needs a second factor (`--require-mfa`).
ALTER TABLE clients ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0
