-- Values used once across every node (DPoP proof and client assertion
-- `jti`s), kept until they expire; the sweeper deletes them after.
CREATE TABLE seen_values (
    key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_values_by_expiry ON seen_values (expires_at)
