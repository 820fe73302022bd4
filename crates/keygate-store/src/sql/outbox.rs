//! The statements of [`OutboxStore`]: the queue of outgoing messages.

use super::{Backend, SqlStore};
use crate::outbox::{Mail, NewMail, OutboxStore, KEEP_SENT};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

const MAIL_COLS: &str =
    "id, tenant_id, recipient, subject, text_body, html_body, created_at, attempts";

fn mail_from(row: &dyn crate::row::Cols) -> Result<Mail> {
    Ok(Mail {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?,
        recipient: row.text("recipient")?,
        subject: row.text("subject")?,
        text: row.text("text_body")?,
        html: row.text("html_body")?,
        created_at: row.int("created_at")?,
        attempts: row.int("attempts")?,
    })
}

/// The claim ($1 now, $2 lease, $3 claim, $4 limit); `{lock}` is
/// PostgreSQL's row lock that skips rows another claim holds.
fn claim_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "UPDATE outbox SET claimed_until = $1 + $2, claim = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4) \
             RETURNING id"
        }
        Backend::Postgres => {
            "UPDATE outbox SET claimed_until = $1 + $2, claim = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4 \
             FOR UPDATE SKIP LOCKED) \
             RETURNING id"
        }
    }
}

const SWEEP_OUTBOX: [(&str, &str); 3] = [
    ("outbox", "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1 LIMIT $2)"),
    ("reset_tokens", "DELETE FROM reset_tokens WHERE hash IN (SELECT hash FROM reset_tokens WHERE expires_at < $1 LIMIT $2)"),
    ("email_links", "DELETE FROM email_links WHERE hash IN (SELECT hash FROM email_links WHERE expires_at < $1 LIMIT $2)"),
];

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_mail(&self, m: &NewMail) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO outbox (id, tenant_id, recipient, subject, text_body, html_body, created_at, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7)",
            &[
                (&m.id).into(),
                (&m.tenant_id).into(),
                (&m.recipient).into(),
                (&m.subject).into(),
                (&m.text).into(),
                (&m.html).into(),
                m.created_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn claim_mail(&self, claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Mail>> {
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
                "SELECT {MAIL_COLS} FROM outbox WHERE claim = $1 AND sent_at IS NULL ORDER BY id"
            ),
            &[claim.into()],
            mail_from,
        )
        .await
    }

    async fn mail_sent(&self, id: &str, now: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE outbox SET sent_at = $2, claimed_until = NULL, claim = NULL WHERE id = $1",
            &[id.into(), now.into()],
        ))
        .await?;
        Ok(())
    }

    async fn mail_failed(&self, id: &str, next_attempt_at: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE outbox SET next_attempt_at = $2, claimed_until = NULL, claim = NULL WHERE id = $1 AND sent_at IS NULL",
            &[id.into(), next_attempt_at.into()],
        ))
        .await?;
        Ok(())
    }

    async fn sweep_outbox(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>> {
        let cutoffs = [now - KEEP_SENT, now, now];
        let write = SWEEP_OUTBOX
            .iter()
            .zip(cutoffs)
            .fold(Write::new(), |w, ((_, sql), cutoff)| {
                w.then(*sql, &[cutoff.into(), batch.into()])
            });
        let done = self.write(write).await?;
        Ok(SWEEP_OUTBOX
            .iter()
            .enumerate()
            .map(|(i, (table, _))| (*table, done.changed(i)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    /// The sweep and the claim run every few seconds against a table that
    /// holds every unsent message and a day of sent ones: each must search
    /// an index, never read the whole table.
    #[test]
    fn sweep_and_claim_search_an_index() {
        let (dir, conn) = crate::sqlite::writer::tests::database("outbox-plan");
        let claim = super::claim_sql(crate::sql::Backend::Sqlite);
        let statements = super::SWEEP_OUTBOX
            .iter()
            .map(|(table, sql)| (*table, sql.to_string(), vec![1_000_000i64, 100]))
            .chain([(
                "outbox claim",
                claim.replace("$3", "'c'"),
                vec![1_000_000i64, 300, 10],
            )]);
        for (what, sql, params) in statements {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{what}: {plan:?}"
            );
        }
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
