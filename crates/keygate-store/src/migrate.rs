//! A small migration runner: numbered SQL files embedded in the binary,
//! applied in order, each in its own transaction, recorded in
//! `keygate_migrations`. (sqlx's own migrator needs its macros, which need a
//! database at compile time; this keeps the build self-contained.)

use crate::{Result, StoreError};
use sqlx::{AnyConnection, Connection, Executor};

/// The current time in Unix seconds (when a migration was applied).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One numbered step of the schema.
pub struct Migration {
    /// Its number: migrations apply in this order, each once.
    pub version: i64,
    /// A short name, recorded with the version.
    pub name: &'static str,
    /// Its statements, separated by `;` at the end of a line.
    pub sql: &'static str,
}

/// Applies the migrations not yet recorded, in order.
pub(crate) async fn apply(conn: &mut AnyConnection, migrations: &[Migration]) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS keygate_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    for m in migrations {
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM keygate_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = conn.begin().await?;
        // Claim the version first. The insert takes the write lock, so a
        // process that lost the race (several nodes, or a node and an admin
        // command, starting at once on one SQLite file) waits for the
        // winner's transaction and then finds the version taken: applied.
        let claimed = sqlx::query(
            "INSERT INTO keygate_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(unix_now())
        .execute(&mut *tx)
        .await;
        match claimed.map_err(StoreError::from) {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                tx.rollback().await?;
                continue;
            }
            Err(e) => return Err(e),
        }
        for stmt in m.sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            tx.execute(stmt).await?;
        }
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

/// Whether every migration is recorded (readiness).
pub(crate) async fn is_current(conn: &mut AnyConnection, migrations: &[Migration]) -> Result<bool> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM keygate_migrations")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n as usize >= migrations.len())
}
