-- What the account page shows of each session, so a person can recognise
-- theirs: the IP address and browser it was started from (the user agent
-- cut to 200 characters). NULL for sessions started before.
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT
