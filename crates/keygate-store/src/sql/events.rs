//! The statements of [`EventStore`]: one insert per event, and one
//! filtered read along the `(tenant_id, id)` index, newest first.

use super::SqlStore;
use crate::events::EventStore;
use crate::row::{Cols, OwnedParam};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;
use keygate_core::events::{Event, EventFilter};

pub(super) const COLS: &str = "id, tenant_id, at, kind, actor, ip, subject, detail";

pub(super) fn event_from(row: &dyn Cols) -> Result<Event> {
    Ok(Event {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?,
        at: row.int("at")?,
        kind: row.text("kind")?,
        actor: row.text("actor")?,
        ip: row.opt_text("ip")?,
        subject: row.opt_text("subject")?,
        // Written by `append_event` from a JSON value; anything else reads
        // as an empty object rather than failing the whole list.
        detail: serde_json::from_str(&row.text("detail")?)
            .unwrap_or_else(|_| serde_json::json!({})),
    })
}

/// The insert of `event` (kept until `expires_at`), for writes that record
/// an event beside their own change.
pub(crate) fn insert_event(write: Write, e: &Event, expires_at: i64) -> Write {
    let write = write.then_owned(
        format!(
            "INSERT INTO events ({COLS}, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        vec![
            OwnedParam::Text(e.id.clone()),
            OwnedParam::Text(e.tenant_id.clone()),
            OwnedParam::Int(e.at),
            OwnedParam::Text(e.kind.clone()),
            OwnedParam::Text(e.actor.clone()),
            OwnedParam::OptText(e.ip.clone()),
            OwnedParam::OptText(e.subject.clone()),
            OwnedParam::Text(e.detail.to_string()),
            OwnedParam::Int(expires_at),
        ],
    );
    // Its webhook deliveries, in the same write (docs/webhooks.md).
    super::webhooks::fan_out(write, e)
}

#[async_trait]
impl EventStore for SqlStore {
    async fn append_event(&self, event: &Event, expires_at: i64) -> Result<()> {
        self.write(insert_event(Write::new(), event, expires_at))
            .await?;
        Ok(())
    }

    async fn list_events(&self, f: &EventFilter, limit: i64) -> Result<Vec<Event>> {
        // The filter's parts are added as numbered parameters, in order.
        let mut sql = format!("SELECT {COLS} FROM events WHERE 1 = 1");
        let mut params: Vec<OwnedParam> = Vec::new();
        let mut add = |clause: &str, p: OwnedParam, sql: &mut String| {
            params.push(p);
            sql.push_str(&clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(t) = &f.tenant_id {
            add(" AND tenant_id = ?", OwnedParam::Text(t.clone()), &mut sql);
        }
        if !f.types.is_empty() {
            sql.push_str(" AND kind IN (");
            for (i, t) in f.types.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                add("?", OwnedParam::Text(t.clone()), &mut sql);
            }
            sql.push(')');
        }
        if let Some(a) = &f.actor {
            add(" AND actor = ?", OwnedParam::Text(a.clone()), &mut sql);
        }
        if let Some(s) = &f.subject {
            add(" AND subject = ?", OwnedParam::Text(s.clone()), &mut sql);
        }
        if let Some(t) = f.since {
            add(" AND at >= ?", OwnedParam::Int(t), &mut sql);
        }
        if let Some(t) = f.until {
            add(" AND at < ?", OwnedParam::Int(t), &mut sql);
        }
        if let Some(b) = &f.before {
            add(" AND id < ?", OwnedParam::Text(b.clone()), &mut sql);
        }
        add(
            " ORDER BY id DESC LIMIT ?",
            OwnedParam::Int(limit),
            &mut sql,
        );
        let params: Vec<_> = params.iter().map(OwnedParam::as_param).collect();
        self.all(&sql, &params, event_from).await
    }
}
