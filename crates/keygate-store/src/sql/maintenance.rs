//! The statements of [`MaintenanceStore`]: the readiness probe, and the
//! sweep that deletes expired rows in batches along their expiry indexes.

use super::{Engine, SqlStore};
use crate::write::Write;
use crate::{MaintenanceStore, Result, StoreError};
use async_trait::async_trait;

/// The statements of one sweep, each deleting at most `$2` rows of its
/// table that expired before `$1`.
///
/// A grant must outlive every access token minted from it: those
/// were minted at code redemption (before the code expired) or with
/// one of its refresh tokens (before that token expired), and live
/// the client's access token lifetime. So a refresh token row goes
/// once it expired that long ago, and a grant once its code expired
/// that long ago and no refresh token row is left, and, if its code was
/// redeemed, the session it was made from has ended (its end finds the
/// clients to tell through the grant, Back-Channel Logout; sessions live
/// at most 14 days). Each filter
/// repeats its bare `column < now` form (implied by the sum, as
/// lifetimes are not negative) so that the expiry index serves it:
/// an index cannot serve `column + ttl < now`, and without it every
/// sweep read the whole table.
const SWEEP: [(&str, &str); 18] = [
    ("sessions", "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)"),
    ("revoked_jtis", "DELETE FROM revoked_jtis WHERE jti IN (SELECT jti FROM revoked_jtis WHERE expires_at < $1 LIMIT $2)"),
    ("rate_limits", "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE blocked_until < $1 AND window_start < $1 - 86400 LIMIT $2)"),
    ("refresh_tokens", "DELETE FROM refresh_tokens WHERE hash IN (SELECT r.hash FROM refresh_tokens r LEFT JOIN clients c ON c.id = r.client_id \
        WHERE r.expires_at < $1 AND r.expires_at + COALESCE(c.access_token_ttl, 0) < $1 LIMIT $2)"),
    ("grants", "DELETE FROM grants WHERE id IN (SELECT g.id FROM grants g LEFT JOIN clients c ON c.id = g.client_id \
        WHERE g.code_expires_at < $1 AND g.code_expires_at + COALESCE(c.access_token_ttl, 0) < $1 \
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id) \
        AND (g.sid IS NULL OR g.code_consumed_at IS NULL OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.sid = g.sid)) LIMIT $2)"),
    ("mfa_pending", "DELETE FROM mfa_pending WHERE hash IN (SELECT hash FROM mfa_pending WHERE expires_at < $1 LIMIT $2)"),
    ("registration_tokens", "DELETE FROM registration_tokens WHERE hash IN (SELECT hash FROM registration_tokens WHERE expires_at < $1 LIMIT $2)"),
    // Registered clients (RFC 7591) that never got a code or a token in
    // their first 30 days: abandoned registrations, so that open
    // registration cannot grow the table without bound.
    ("clients", "DELETE FROM clients WHERE id IN (SELECT id FROM clients WHERE registration_token_hash IS NOT NULL \
        AND first_used_at IS NULL AND created_at < $1 - 2592000 LIMIT $2)"),
    ("passkey_ceremonies", "DELETE FROM passkey_ceremonies WHERE hash IN (SELECT hash FROM passkey_ceremonies WHERE expires_at < $1 LIMIT $2)"),
    ("seen_values", "DELETE FROM seen_values WHERE key IN (SELECT key FROM seen_values WHERE expires_at < $1 LIMIT $2)"),
    ("pushed_requests", "DELETE FROM pushed_requests WHERE hash IN (SELECT hash FROM pushed_requests WHERE expires_at < $1 LIMIT $2)"),
    ("operator_sessions", "DELETE FROM operator_sessions WHERE id_hash IN (SELECT id_hash FROM operator_sessions WHERE expires_at < $1 LIMIT $2)"),
    ("events", "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE expires_at < $1 LIMIT $2)"),
    ("federation_states", "DELETE FROM federation_states WHERE hash IN (SELECT hash FROM federation_states WHERE expires_at < $1 LIMIT $2)"),
    // Back-channel logouts delivered or given up more than a day ago.
    ("backchannel_logouts", "DELETE FROM backchannel_logouts WHERE (client_id, sid) IN (SELECT client_id, sid FROM backchannel_logouts \
        WHERE finished_at < $1 - 86400 LIMIT $2)"),
    // Webhook deliveries delivered or given up more than 30 days ago.
    ("webhook_deliveries", "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
        WHERE finished_at < $1 - 2592000 LIMIT $2)"),
    ("device_codes", "DELETE FROM device_codes WHERE hash IN (SELECT hash FROM device_codes WHERE expires_at < $1 LIMIT $2)"),
    ("signing_keys", "DELETE FROM signing_keys WHERE kid IN (SELECT kid FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at + 86400 < $1 LIMIT $2)"),
];

#[async_trait]
impl MaintenanceStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        let conn = match &self.engine {
            Engine::Sqlite { writer, .. } if !writer.is_running() => {
                return Err(StoreError::Backend("the SQLite writer has stopped".into()))
            }
            Engine::Sqlite { probe, .. } => probe,
            Engine::Postgres(pool) => pool,
        };
        if crate::migrate::is_current(&mut *conn.get().await?, self.migrations).await? {
            Ok(())
        } else {
            Err(StoreError::Backend("migrations are not all applied".into()))
        }
    }

    async fn sweep(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>> {
        let write = SWEEP.iter().fold(Write::new(), |w, (_, sql)| {
            w.then(*sql, &[now.into(), batch.into()])
        });
        let done = self.write(write).await?;
        Ok(SWEEP
            .iter()
            .enumerate()
            .map(|(i, (table, _))| (*table, done.changed(i)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    /// The sweep runs every minute against tables that hold every live
    /// refresh token and grant; a statement that scans its table instead of
    /// searching an expiry index costs a read of the whole table each time.
    #[test]
    fn sweep_statements_search_an_index() {
        let (dir, conn) = crate::sqlite::writer::tests::database("sweep-plan");
        for (table, sql) in super::SWEEP {
            if table == "signing_keys" {
                continue; // a handful of rows per tenant
            }
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map([1_000_000i64, 100], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{table}: {plan:?}"
            );
            assert!(
                plan.iter().any(|step| step.contains("_by_")),
                "{table} uses no expiry index: {plan:?}"
            );
        }
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
