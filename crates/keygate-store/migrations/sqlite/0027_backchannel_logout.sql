-- OpenID Connect Back-Channel Logout 1.0 (docs/logout.md).
-- A session's `sid`: random, unrelated to its cookie; sessions started
-- before this migration get one now.
ALTER TABLE sessions ADD COLUMN sid TEXT;
UPDATE sessions SET sid = lower(hex(randomblob(16))) WHERE sid IS NULL;
-- Not unique: two sign-ins of one person racing in one browser may both
-- carry the session's sid on; either one's end tells its clients once.
CREATE INDEX sessions_by_sid ON sessions (sid);
-- The session a grant was made from (NULL: none, the Journeys API), so
-- its refreshed id_tokens carry the same `sid` and the session's end
-- finds the clients to tell; and the issuer it was made at, the `iss`
-- of its logout tokens.
ALTER TABLE grants ADD COLUMN sid TEXT;
ALTER TABLE grants ADD COLUMN sid_issuer TEXT;
CREATE INDEX grants_by_sid ON grants (sid) WHERE sid IS NOT NULL;
-- Logout tokens to deliver: one row per client and ended session, written
-- in the same transaction as the session's end. Any node claims a batch
-- with a lease (`claimed_until`, `claim`), signs and posts each token,
-- and marks it finished (`outcome` delivered or given_up) or due again
-- (`next_attempt_at`). The sweeper deletes finished rows a day later.
CREATE TABLE backchannel_logouts (
    client_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_sub TEXT NOT NULL,
    issuer TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    claim TEXT,
    finished_at INTEGER,
    outcome TEXT,
    PRIMARY KEY (client_id, sid)
);
CREATE INDEX backchannel_logouts_by_next_attempt ON backchannel_logouts (next_attempt_at) WHERE finished_at IS NULL;
CREATE INDEX backchannel_logouts_by_finished ON backchannel_logouts (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX backchannel_logouts_by_claim ON backchannel_logouts (claim)
