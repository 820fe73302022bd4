-- Sign-in attempts are reserved in the store before the password is
-- checked: one statement counts the attempt and refuses it past the limit.
-- `granted` records that statement's verdict so that its RETURNING clause
-- (which sees only the new row) can report it.
ALTER TABLE rate_limits ADD COLUMN granted INTEGER NOT NULL DEFAULT 0
