//! The outbox: messages (e-mail) queued in the store and delivered later by
//! any node that has a way to send them.
//!
//! A sender claims a batch of due messages with a lease: one statement marks
//! them as its own (`claim`) until `claimed_until`, so two nodes never send
//! the same message at once (on PostgreSQL the claim skips rows another
//! node is claiming, `FOR UPDATE SKIP LOCKED`; on SQLite the one writer
//! thread runs claims one after the other). A sender that dies mid-batch
//! leaves its messages to be claimed again once the lease has passed, so a
//! crash loses none. After each attempt the sender marks the message sent
//! or failed (with the time of its next attempt); sent messages are deleted
//! by the sweeper a day later ([`OutboxStore::sweep_outbox`]).

use crate::metered::Metered;
use crate::sql::{Backend, SqlStore};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;
use std::time::Instant;

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Unique (the caller draws it).
    pub id: String,
    pub tenant_id: String,
    /// The recipient's e-mail address.
    pub recipient: String,
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
    pub created_at: i64,
}

/// A claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: String,
    pub tenant_id: String,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: i64,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How long a sent message is kept before the sweeper deletes it.
pub const KEEP_SENT: i64 = 86_400;

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues a message, due at once.
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<()>;
    /// Claims up to `limit` due messages (unsent, their next attempt due, no
    /// live lease) for `lease` seconds under the caller's random `claim`,
    /// counting an attempt of each, and returns them.
    async fn claim_mail(&self, claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Mail>>;
    /// The message was accepted by the mail server.
    async fn mail_sent(&self, id: &str, now: i64) -> Result<()>;
    /// The attempt failed: the message is due again at `next_attempt_at`.
    async fn mail_failed(&self, id: &str, next_attempt_at: i64) -> Result<()>;
    /// Deletes up to `batch` messages sent more than [`KEEP_SENT`] seconds
    /// before `now`, and up to `batch` expired password-reset links; what
    /// was deleted per table.
    async fn sweep_outbox(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>>;
}

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

const SWEEP_OUTBOX: [(&str, &str); 2] = [
    ("outbox", "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1 LIMIT $2)"),
    ("reset_tokens", "DELETE FROM reset_tokens WHERE hash IN (SELECT hash FROM reset_tokens WHERE expires_at < $1 LIMIT $2)"),
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
        let cutoffs = [now - KEEP_SENT, now];
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

pub(crate) fn record(op: &'static str, started: Instant) {
    metrics::histogram!("keygate_store_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
}

#[async_trait]
impl OutboxStore for Metered {
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<()> {
        let started = Instant::now();
        let out = self.0.enqueue_mail(mail).await;
        record("enqueue_mail", started);
        out
    }

    async fn claim_mail(&self, claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Mail>> {
        let started = Instant::now();
        let out = self.0.claim_mail(claim, now, lease, limit).await;
        record("claim_mail", started);
        out
    }

    async fn mail_sent(&self, id: &str, now: i64) -> Result<()> {
        let started = Instant::now();
        let out = self.0.mail_sent(id, now).await;
        record("mail_sent", started);
        out
    }

    async fn mail_failed(&self, id: &str, next_attempt_at: i64) -> Result<()> {
        let started = Instant::now();
        let out = self.0.mail_failed(id, next_attempt_at).await;
        record("mail_failed", started);
        out
    }

    async fn sweep_outbox(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>> {
        let started = Instant::now();
        let out = self.0.sweep_outbox(now, batch).await;
        record("sweep_outbox", started);
        out
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
