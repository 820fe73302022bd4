//! Consuming codes and refresh tokens, many at a time.
//!
//! Every token exchange ends in one conditional UPDATE that marks its code
//! or refresh token consumed (and, through a trigger, stores the successor
//! refresh token). On SQLite those UPDATEs all queue for the one writer
//! connection, and each costs a round trip to the connection's thread and a
//! commit of its own. Here a task per kind takes every exchange waiting at
//! that moment and consumes them with one `UPDATE ... FROM (VALUES ...)
//! RETURNING`: one round trip and one commit for the batch, and the rows the
//! statement returns say which exchanges won. Under no load a batch is one
//! exchange, as before; under load the batch grows while the previous one
//! is being written.
//!
//! Single use is still decided by the database: each row's WHERE clause is
//! the one a lone UPDATE had. A hash that appears twice in one batch (two
//! racing exchanges of the same code) goes into the statement once; the
//! later copies lose without asking, as they would have lost the race.

use crate::lease::Connections;
use crate::{Consumed, NewRefresh, Result, StoreError};
use sqlx::Row as _;
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// At most this many exchanges share a statement (4 parameters each).
const MAX_BATCH: usize = 64;

/// What is consumed, and the statement pieces that say how.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Code,
    Refresh,
}

impl Kind {
    /// The UPDATE for `rows` exchanges; parameters per row: the hash, now,
    /// the successor's hash and its expiry.
    fn statement(self, rows: usize) -> String {
        let values = (0..rows)
            .map(|i| {
                let n = i * 4;
                format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let source = format!(
            "(SELECT column1 AS h, column2 AS n, column3 AS s, column4 AS e FROM (VALUES {values}) AS x) AS v"
        );
        match self {
            Kind::Code => format!(
                "UPDATE grants SET code_consumed_at = v.n, successor_hash = v.s, successor_expires_at = v.e \
                 FROM {source} \
                 WHERE grants.code_hash = v.h AND grants.code_consumed_at IS NULL \
                 AND grants.code_expires_at > v.n AND grants.revoked_at IS NULL \
                 RETURNING grants.code_hash AS h"
            ),
            Kind::Refresh => format!(
                "UPDATE refresh_tokens SET consumed_at = v.n, successor_hash = v.s, successor_expires_at = v.e \
                 FROM {source} \
                 WHERE refresh_tokens.hash = v.h AND refresh_tokens.consumed_at IS NULL \
                 AND refresh_tokens.expires_at > v.n \
                 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = refresh_tokens.grant_id AND g.revoked_at IS NOT NULL) \
                 RETURNING refresh_tokens.hash AS h"
            ),
        }
    }
}

/// One consume: the hash, now, and the successor's hash and expiry.
struct Row {
    hash: String,
    now: i64,
    successor: Option<(String, i64)>,
}

pub(crate) struct Pending {
    row: Row,
    reply: oneshot::Sender<Result<Consumed>>,
}

/// How one kind's consumes reach the database.
pub(crate) enum Consumer {
    /// SQLite: through a queue whose task batches them (it ends when this
    /// is dropped).
    Batched(mpsc::UnboundedSender<Pending>),
    /// PostgreSQL: each on its own pooled connection, concurrently. There
    /// is no single writer to queue for, and batches from two nodes that
    /// shared rows could deadlock on them.
    Direct(Kind, Connections),
}

impl Consumer {
    pub(crate) fn batched(kind: Kind, writer: Connections) -> Consumer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(kind, writer, rx));
        Consumer::Batched(queue)
    }

    /// Consumes `hash` at `now` if it is still unused, storing `successor`.
    pub(crate) async fn consume(
        &self,
        hash: &str,
        now: i64,
        successor: Option<&NewRefresh>,
    ) -> Result<Consumed> {
        let row = Row {
            hash: hash.to_string(),
            now,
            successor: successor.map(|r| (r.hash.clone(), r.token.expires_at)),
        };
        let queue = match self {
            Consumer::Batched(queue) => queue,
            Consumer::Direct(kind, writer) => {
                let won = execute(*kind, writer, &[&row]).await?;
                return Ok(outcome(&won, hash));
            }
        };
        let (reply, answer) = oneshot::channel();
        queue
            .send(Pending { row, reply })
            .map_err(|_| StoreError::Backend("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the store is closed".into()))?
    }
}

async fn run(kind: Kind, writer: Connections, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut seen = HashSet::new();
        let (first, repeats): (Vec<Pending>, Vec<Pending>) = batch
            .drain(..)
            .partition(|p| seen.insert(p.row.hash.clone()));
        for p in repeats {
            let _ = p.reply.send(Ok(Consumed::Lost));
        }
        let rows: Vec<&Row> = first.iter().map(|p| &p.row).collect();
        match execute(kind, &writer, &rows).await {
            Ok(won) => {
                for p in first {
                    let _ = p.reply.send(Ok(outcome(&won, &p.row.hash)));
                }
            }
            Err(e) => {
                for p in first {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Runs one batch; the hashes that were consumed.
fn outcome(won: &HashSet<String>, hash: &str) -> Consumed {
    if won.contains(hash) {
        Consumed::Won
    } else {
        Consumed::Lost
    }
}

async fn execute(kind: Kind, writer: &Connections, batch: &[&Row]) -> Result<HashSet<String>> {
    let sql = kind.statement(batch.len());
    let mut query = sqlx::query(&sql);
    for p in batch {
        query = query
            .bind(&p.hash)
            .bind(p.now)
            .bind(p.successor.as_ref().map(|s| s.0.clone()))
            .bind(p.successor.as_ref().map(|s| s.1));
    }
    let rows = query.fetch_all(&mut *writer.get().await?).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("h").map_err(StoreError::from))
        .collect()
}
