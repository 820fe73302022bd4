//! SQLite reads on the calling thread.
//!
//! sqlx runs every SQLite connection on a thread of its own, so each read
//! costs two hand-overs between threads: wake the connection's thread, then
//! wake the task that waits for the rows. On a 2-core machine under load
//! those wake-ups, and the context switches they force on the signing
//! threads, cost more than the read: profiled on W1 (authorization_code),
//! the eight reader threads used 76 us of CPU per request for one indexed
//! lookup, most of it in the kernel.
//!
//! The reads of the store are indexed lookups of a few pages, which SQLite
//! finds in the OS page cache; they take a few microseconds, like any short
//! computation a request does, so they run here on the thread that asks.
//! In WAL mode a reader never waits for the writer. What could still make
//! one wait, SQLITE_BUSY while another process recovers the WAL after a
//! crash, is not waited for on the calling thread: these connections have
//! no busy timeout, and a read that finds the database busy runs again on
//! the blocking pool with the store's timeout.
//!
//! Writes go to the one writer thread (`writer.rs`).

use crate::row::{bind_numbered, sqlite_error, Decode, NamedRow, OwnedParam, Param};
use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle connections kept open: one per async worker and a few for reads
/// retried on the blocking pool; more are opened when all are in use.
const MAX_IDLE: usize = 8;

pub(crate) struct InlineReads {
    path: String,
    idle: Mutex<Vec<Connection>>,
    /// How long a retried read may wait for a busy database.
    timeout: Duration,
}

pub(crate) enum Failure {
    Sqlite(rusqlite::Error),
    Decode(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sqlite(e)
    }
}

impl Failure {
    fn is_busy(&self) -> bool {
        matches!(
            self,
            Failure::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Sqlite(e) => sqlite_error(e),
            Failure::Decode(e) => e,
        }
    }
}

impl InlineReads {
    /// Opens the first connection (which checks that the file can be read).
    pub(crate) fn open(path: &str, timeout: Duration) -> Result<Arc<InlineReads>> {
        let reads = InlineReads {
            path: path.to_string(),
            idle: Mutex::new(Vec::new()),
            timeout,
        };
        let first = reads.connect().map_err(StoreError::from)?;
        reads.give(first);
        Ok(Arc::new(reads))
    }

    fn connect(&self) -> std::result::Result<Connection, Failure> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        // These connections only read; SQLite enforces it.
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn take(&self) -> std::result::Result<Connection, Failure> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn give(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs a read and decodes every row.
    pub(crate) async fn query<T: Send + 'static>(
        self: &Arc<Self>,
        sql: &str,
        params: &[Param<'_>],
        decode: Decode<T>,
    ) -> Result<Vec<T>> {
        let conn = self.take()?;
        let first = run(&conn, sql, params, decode);
        self.give(conn);
        match first {
            Err(f) if f.is_busy() => {}
            other => return other.map_err(StoreError::from),
        }
        let (me, sql) = (self.clone(), sql.to_string());
        let params: Vec<OwnedParam> = params.iter().map(OwnedParam::from).collect();
        tokio::task::spawn_blocking(move || {
            let conn = me.take()?;
            conn.busy_timeout(me.timeout)?;
            let out = run(&conn, &sql, &params, decode);
            conn.busy_timeout(Duration::ZERO)?;
            me.give(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .map_err(StoreError::from)
    }
}

pub(crate) fn run<T, P: ToSql>(
    conn: &Connection,
    sql: &str,
    params: &[P],
    decode: Decode<T>,
) -> std::result::Result<Vec<T>, Failure> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_numbered(&mut stmt, params)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(&NamedRow::new(row)).map_err(Failure::Decode)?);
    }
    Ok(out)
}
