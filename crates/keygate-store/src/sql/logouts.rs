//! The statements of [`LogoutStore`], and the statements that queue the
//! logouts of ending sessions inside the writes that end them.

use super::{Backend, SqlStore};
use crate::logouts::{Logout, LogoutOutcome, LogoutStore};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

/// The rows queued for the sessions selected by `which` (a condition on
/// the sessions `s`; `now` the placeholder of the time of the end): one per client whose
/// code from one of those sessions was redeemed (so it holds an id_token
/// with the `sid`) and that has a back-channel logout URI. Sessions already
/// expired ended by themselves; nobody is told about them. A logout already
/// queued for the client and session stays as it is.
fn queue_sql(which: &str, now: &str) -> String {
    format!(
        "INSERT INTO backchannel_logouts (client_id, sid, tenant_id, user_sub, issuer, created_at, attempts, next_attempt_at) \
         SELECT DISTINCT g.client_id, g.sid, g.tenant_id, g.user_sub, g.sid_issuer, {now}, 0, {now} \
         FROM sessions s \
         JOIN grants g ON g.sid = s.sid AND g.tenant_id = s.tenant_id \
         JOIN clients c ON c.id = g.client_id AND c.tenant_id = g.tenant_id \
         WHERE {which} AND s.expires_at > {now} \
         AND g.code_consumed_at IS NOT NULL AND g.sid_issuer IS NOT NULL AND c.backchannel_logout_uri IS NOT NULL \
         ON CONFLICT DO NOTHING"
    )
}

/// Adds to `write`, before the statements that delete them, the logouts of
/// every session of a person (`$1` tenant, `$2` sub).
pub(super) fn queue_logouts_of_person(write: Write, tenant_id: &str, sub: &str, now: i64) -> Write {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| queue_sql("s.tenant_id = $1 AND s.user_sub = $2", "$3"));
    write.then(sql.as_str(), &[tenant_id.into(), sub.into(), now.into()])
}

/// Adds to `write` the end of one session, by the hash of its cookie:
/// its logouts queued, the grants made from it revoked unless they hold
/// `offline_access` (Back-Channel Logout 2.7: refresh tokens issued without
/// it should be revoked with the session, those with it should not), and
/// the session deleted.
pub(super) fn ends_session(write: Write, id_hash: &str, now: i64) -> Write {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| queue_sql("s.id_hash = $1", "$2"));
    write
        .then(sql.as_str(), &[id_hash.into(), now.into()])
        .then(
            "UPDATE grants SET revoked_at = $2 \
             WHERE sid = (SELECT sid FROM sessions WHERE id_hash = $1) AND revoked_at IS NULL \
             AND (' ' || scope || ' ') NOT LIKE '% offline_access %'",
            &[id_hash.into(), now.into()],
        )
        .then("DELETE FROM sessions WHERE id_hash = $1", &[id_hash.into()])
}

const LOGOUT_COLS: &str = "client_id, sid, tenant_id, user_sub, issuer, created_at, attempts";

fn logout_from(row: &dyn crate::row::Cols) -> Result<Logout> {
    Ok(Logout {
        client_id: row.text("client_id")?,
        sid: row.text("sid")?,
        tenant_id: row.text("tenant_id")?,
        user_sub: row.text("user_sub")?,
        issuer: row.text("issuer")?,
        created_at: row.int("created_at")?,
        attempts: row.int("attempts")?,
    })
}

/// The claim ($1 now, $2 lease, $3 claim, $4 limit); on PostgreSQL the
/// inner select skips rows another claim holds locked.
pub(super) fn claim_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "UPDATE backchannel_logouts SET claimed_until = $1 + $2, claim = $3, attempts = attempts + 1 \
             WHERE (client_id, sid) IN (SELECT client_id, sid FROM backchannel_logouts \
             WHERE finished_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4) \
             RETURNING client_id"
        }
        Backend::Postgres => {
            "UPDATE backchannel_logouts SET claimed_until = $1 + $2, claim = $3, attempts = attempts + 1 \
             WHERE (client_id, sid) IN (SELECT client_id, sid FROM backchannel_logouts \
             WHERE finished_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4 \
             FOR UPDATE SKIP LOCKED) \
             RETURNING client_id"
        }
    }
}

#[async_trait]
impl LogoutStore for SqlStore {
    async fn claim_logouts(
        &self,
        claim: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Logout>> {
        let done = self
            .write(
                Write::new()
                    .then(
                        claim_sql(self.backend),
                        &[now.into(), lease.into(), claim.into(), limit.into()],
                    )
                    .returning(),
            )
            .await?;
        if done.changed(0) == 0 {
            return Ok(Vec::new());
        }
        self.all(
            &format!(
                "SELECT {LOGOUT_COLS} FROM backchannel_logouts WHERE claim = $1 AND finished_at IS NULL \
                 ORDER BY created_at, client_id, sid"
            ),
            &[claim.into()],
            logout_from,
        )
        .await
    }

    async fn logout_finished(
        &self,
        client_id: &str,
        sid: &str,
        outcome: LogoutOutcome,
        now: i64,
    ) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE backchannel_logouts SET finished_at = $3, outcome = $4, claimed_until = NULL, claim = NULL \
             WHERE client_id = $1 AND sid = $2 AND finished_at IS NULL",
            &[client_id.into(), sid.into(), now.into(), outcome.as_str().into()],
        ))
        .await?;
        Ok(())
    }

    async fn logout_failed(&self, client_id: &str, sid: &str, next_attempt_at: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE backchannel_logouts SET next_attempt_at = $3, claimed_until = NULL, claim = NULL \
             WHERE client_id = $1 AND sid = $2 AND finished_at IS NULL",
            &[client_id.into(), sid.into(), next_attempt_at.into()],
        ))
        .await?;
        Ok(())
    }

    async fn logouts_of_session(&self, sid: &str) -> Result<Vec<(String, Option<String>)>> {
        self.all(
            "SELECT client_id, outcome FROM backchannel_logouts WHERE sid = $1 ORDER BY client_id",
            &[sid.into()],
            |r| Ok((r.text("client_id")?, r.opt_text("outcome")?)),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    /// The claim runs every few seconds on every node: it must search an
    /// index, never read the whole table.
    #[test]
    fn the_claim_searches_an_index() {
        let (dir, conn) = crate::sqlite::writer::tests::database("logouts-plan");
        let claim = super::claim_sql(crate::sql::Backend::Sqlite).replace("$3", "'c'");
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {claim}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter([1_000_000i64, 300, 10]), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        drop(stmt);
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
