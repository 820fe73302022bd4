//! The statements of [`WebhookStore`], and the fan-out of an event to the
//! webhooks subscribed to it, inside the write that appends the event.

use super::{Backend, SqlStore};
use crate::row::{Cols, OwnedParam};
use crate::webhooks::{Delivery, Webhook, WebhookStore};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;
use keygate_core::events::Event;

/// Adds to `write` one delivery of `e` per webhook of its tenant that
/// gets its type (`types` empty, or listing it between spaces). The
/// message id is derived from the event and the webhook, so it is the same
/// on every attempt.
pub(crate) fn fan_out(write: Write, e: &Event) -> Write {
    write.then_owned(
        "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, created_at, attempts, next_attempt_at) \
         SELECT 'msg_' || $1 || '_' || w.id, w.tenant_id, w.id, $1, $3, $4, 0, $4 FROM webhooks w \
         WHERE w.tenant_id = $2 AND (w.types = '' OR replace(w.types, ' ' || $3 || ' ', '') <> w.types)",
        vec![
            OwnedParam::Text(e.id.clone()),
            OwnedParam::Text(e.tenant_id.clone()),
            OwnedParam::Text(e.kind.clone()),
            OwnedParam::Int(e.at),
        ],
    )
}

const WEBHOOK_COLS: &str = "tenant_id, id, url, secret_sealed, types, created_at";

fn webhook_from(row: &dyn Cols) -> Result<Webhook> {
    Ok(Webhook {
        tenant_id: row.text("tenant_id")?,
        id: row.text("id")?,
        url: row.text("url")?,
        secret_sealed: row.text("secret_sealed")?,
        types: row
            .text("types")?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        created_at: row.int("created_at")?,
    })
}

const DELIVERY_COLS: &str =
    "id, tenant_id, webhook_id, event_id, event_type, created_at, attempts, \
    next_attempt_at, delivered_at, given_up_at, last_status, last_error";

fn delivery_from(row: &dyn Cols) -> Result<Delivery> {
    Ok(Delivery {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?,
        webhook_id: row.text("webhook_id")?,
        event_id: row.text("event_id")?,
        event_type: row.text("event_type")?,
        created_at: row.int("created_at")?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
        delivered_at: row.opt_int("delivered_at")?,
        given_up_at: row.opt_int("given_up_at")?,
        last_status: row.opt_int("last_status")?,
        last_error: row.opt_text("last_error")?,
    })
}

/// The claim ($1 now, $2 lease, $3 claim, $4 limit); on PostgreSQL the
/// inner select skips rows another claim holds locked.
pub(super) fn claim_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "UPDATE webhook_deliveries SET claimed_until = $1 + $2, claim = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE finished_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4) \
             RETURNING id"
        }
        Backend::Postgres => {
            "UPDATE webhook_deliveries SET claimed_until = $1 + $2, claim = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE finished_at IS NULL AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4 \
             FOR UPDATE SKIP LOCKED) \
             RETURNING id"
        }
    }
}

/// At most this much of an error is kept.
const MAX_ERROR: usize = 200;

fn short(error: &str) -> String {
    error.chars().take(MAX_ERROR).collect()
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, w: &Webhook) -> Result<()> {
        let types = if w.types.is_empty() {
            String::new()
        } else {
            format!(" {} ", w.types.join(" "))
        };
        self.write(
            Write::new()
                .then(
                    "INSERT INTO webhooks (tenant_id, id, url, secret_sealed, types, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        (&w.tenant_id).into(),
                        (&w.id).into(),
                        (&w.url).into(),
                        (&w.secret_sealed).into(),
                        types.as_str().into(),
                        w.created_at.into(),
                    ],
                )
                .conflict("a webhook with this id exists"),
        )
        .await?;
        Ok(())
    }

    async fn list_webhooks(&self, tenant_id: &str) -> Result<Vec<Webhook>> {
        self.all(
            &format!(
                "SELECT {WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id"
            ),
            &[tenant_id.into()],
            webhook_from,
        )
        .await
    }

    async fn get_webhook(&self, tenant_id: &str, id: &str) -> Result<Option<Webhook>> {
        self.first(
            &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 AND id = $2"),
            &[tenant_id.into(), id.into()],
            webhook_from,
        )
        .await
    }

    async fn delete_webhook(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let write = Write::new()
            .then(
                "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2",
                &[tenant_id.into(), id.into()],
            )
            .exactly_one()
            .then(
                "DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2",
                &[tenant_id.into(), id.into()],
            );
        Ok(!self.write(write).await?.is_undone())
    }

    async fn claim_deliveries(
        &self,
        claim: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
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
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE claim = $1 AND finished_at IS NULL \
                 ORDER BY created_at, id"
            ),
            &[claim.into()],
            delivery_from,
        )
        .await
    }

    async fn delivery_succeeded(&self, id: &str, status: i64, now: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE webhook_deliveries SET delivered_at = $2, finished_at = $2, last_status = $3, \
             last_error = NULL, claim = NULL, claimed_until = NULL \
             WHERE id = $1 AND finished_at IS NULL",
            &[id.into(), now.into(), status.into()],
        ))
        .await?;
        Ok(())
    }

    async fn delivery_failed(
        &self,
        id: &str,
        status: Option<i64>,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE webhook_deliveries SET next_attempt_at = $2, last_status = $3, last_error = $4, \
             claim = NULL, claimed_until = NULL WHERE id = $1 AND finished_at IS NULL",
            &[
                id.into(),
                next_attempt_at.into(),
                status.into(),
                short(error).as_str().into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn delivery_given_up(
        &self,
        id: &str,
        status: Option<i64>,
        error: &str,
        now: i64,
    ) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE webhook_deliveries SET given_up_at = $2, finished_at = $2, last_status = $3, \
             last_error = $4, claim = NULL, claimed_until = NULL WHERE id = $1 AND finished_at IS NULL",
            &[
                id.into(),
                now.into(),
                status.into(),
                short(error).as_str().into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn webhook_event(&self, tenant_id: &str, event_id: &str) -> Result<Option<Event>> {
        self.first(
            &format!(
                "SELECT {} FROM events WHERE id = $1 AND tenant_id = $2",
                super::events::COLS
            ),
            &[event_id.into(), tenant_id.into()],
            super::events::event_from,
        )
        .await
    }

    async fn deliveries_of(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        self.all(
            &format!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ),
            &[tenant_id.into(), webhook_id.into(), limit.into()],
            delivery_from,
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
        let (dir, conn) = crate::sqlite::writer::tests::database("webhooks-plan");
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
