-- A person's contact details (OpenID Connect Core 5.1): the telephone
-- number in E.164 form, whether an operator verified it, and the postal
-- address as the JSON of the `address` claim; NULL when unknown.
ALTER TABLE users ADD COLUMN phone_number TEXT;
ALTER TABLE users ADD COLUMN phone_number_verified BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN address TEXT;
-- The claims a request's `claims` parameter named (Core 5.5), as JSON;
-- '' when it named none.
ALTER TABLE grants ADD COLUMN claims TEXT NOT NULL DEFAULT ''
