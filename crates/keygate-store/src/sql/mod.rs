//! The SQL behind every capability of [`crate::Store`], written once for
//! SQLite and PostgreSQL: [`SqlStore`], how its statements reach each
//! engine ([`Engine`]), and one file of statements per capability.
//!
//! Integers are BIGINT/INTEGER (times in Unix seconds, booleans as 0/1) and
//! lists are JSON text, so one statement text serves both engines. Reads
//! are a statement, its parameters and a decoder ([`crate::row`]); writes
//! are [`Write`]s. Each engine runs them its own way ([`Engine`]).

mod admin_tokens;
mod apis;
mod clients;
mod consents;
mod device;
mod email_links;
mod events;
mod factors;
mod federation;
mod grants;
mod keys;
mod limits;
mod logouts;
mod maintenance;
mod operators;
mod outbox;
mod passkeys;
mod pushed;
mod registration;
mod replay;
mod reset;
mod sessions;
mod tenants;
mod users;
mod webhooks;

use crate::lease::Connections;
use crate::migrate::Migration;
use crate::row::{bind, Decode, Param};
use crate::sqlite::inline::InlineReads;
use crate::sqlite::writer::Writer;
use crate::write::{run_on, Outcome, Write};
use crate::{postgres, sqlite, Result, StoreError, StoreOptions};
use std::sync::Arc;

/// Which database the SQL runs on, where a statement must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// How statements reach the database.
#[derive(Clone)]
enum Engine {
    /// Reads on the calling thread ([`crate::sqlite::inline`]), writes on the one
    /// writer thread ([`crate::sqlite::writer`]), and one sqlx connection for the
    /// readiness probe and the background checkpoints.
    Sqlite {
        reads: Arc<InlineReads>,
        writer: Arc<Writer>,
        probe: Connections,
    },
    /// Everything on sqlx's pool.
    Postgres(Connections),
}

/// The SQL store: every capability, on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    engine: Engine,
    backend: Backend,
    /// The engine's migrations, all of which the readiness probe expects.
    migrations: &'static [Migration],
}

impl SqlStore {
    /// Opens the SQLite store of a `sqlite://` URL ([`crate::sqlite`]).
    pub(crate) async fn open_sqlite(url: &str, opts: &StoreOptions) -> Result<SqlStore> {
        let sqlite::Opened {
            reads,
            writer,
            probe,
        } = sqlite::open(url, opts).await?;
        Ok(SqlStore {
            engine: Engine::Sqlite {
                reads,
                writer,
                probe,
            },
            backend: Backend::Sqlite,
            migrations: sqlite::MIGRATIONS,
        })
    }

    /// Opens the PostgreSQL store of a `postgres://` URL ([`crate::postgres`]).
    pub(crate) async fn open_postgres(url: &str, opts: &StoreOptions) -> Result<SqlStore> {
        Ok(SqlStore {
            engine: Engine::Postgres(postgres::open(url, opts).await?),
            backend: Backend::Postgres,
            migrations: postgres::MIGRATIONS,
        })
    }

    /// Every row of a read, decoded.
    async fn all<T: Send + 'static>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: Decode<T>,
    ) -> Result<Vec<T>> {
        match &self.engine {
            Engine::Sqlite { reads, .. } => reads.query(sql, params, decode).await,
            Engine::Postgres(pool) => {
                let rows = bind(sqlx::query(sql), params)
                    .fetch_all(&mut *pool.get().await?)
                    .await?;
                rows.iter().map(|r| decode(r)).collect()
            }
        }
    }

    /// The first row of a read, decoded, if there is one.
    async fn first<T: Send + 'static>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: Decode<T>,
    ) -> Result<Option<T>> {
        Ok(self.all(sql, params, decode).await?.into_iter().next())
    }

    /// Whether a read finds a row.
    async fn exists(&self, sql: &str, params: &[Param<'_>]) -> Result<bool> {
        Ok(self.first(sql, params, |_| Ok(())).await?.is_some())
    }

    /// Runs a write: committed when this returns `Outcome::Done`.
    async fn write(&self, write: Write) -> Result<Outcome> {
        match &self.engine {
            Engine::Sqlite { writer, .. } => writer.write(write).await,
            Engine::Postgres(pool) => run_on(&mut *pool.get().await?, &write).await,
        }
    }

    /// A write that must find its row: `NotFound` when it was undone.
    async fn write_found(&self, write: Write) -> Result<()> {
        if self.write(write).await?.is_undone() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A write whose first statement creates or removes one row; whether it did.
    async fn write_one(&self, write: Write) -> Result<bool> {
        Ok(self.write(write).await?.changed(0) == 1)
    }
}
