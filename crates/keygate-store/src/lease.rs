//! Where the store's sqlx statements get a connection.
//!
//! PostgreSQL uses sqlx's pool. SQLite keeps one sqlx connection (the
//! readiness probe and the background checkpoints) in a [`Local`] set: a
//! plain list of open connections behind a fair semaphore. sqlx's pool
//! would ping a connection when handing it out and again when taking it
//! back, which a SQLite file handle, unable to go stale, does not need.

use crate::{Result, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A source of connections: sqlx's pool or a [`Local`] set.
#[derive(Clone)]
pub(crate) enum Connections {
    Pool(AnyPool),
    Local(Arc<Local>),
}

/// Open SQLite connections, handed out first come, first served.
pub(crate) struct Local {
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

impl Local {
    pub(crate) fn new(connections: Vec<AnyConnection>, acquire_timeout: Duration) -> Arc<Self> {
        Arc::new(Local {
            permits: Arc::new(Semaphore::new(connections.len())),
            idle: Mutex::new(connections),
            acquire_timeout,
        })
    }
}

/// A connection on loan; it goes back to where it came from when dropped.
pub(crate) enum Lease {
    Pool(PoolConnection<Any>),
    Local {
        conn: Option<AnyConnection>,
        from: Arc<Local>,
        _permit: OwnedSemaphorePermit,
    },
}

impl Connections {
    /// Waits (at most the acquire timeout) for a connection.
    pub(crate) async fn get(&self) -> Result<Lease> {
        match self {
            Connections::Pool(pool) => Ok(Lease::Pool(pool.acquire().await?)),
            Connections::Local(local) => {
                let permit = tokio::time::timeout(
                    local.acquire_timeout,
                    local.permits.clone().acquire_owned(),
                )
                .await
                .map_err(|_| StoreError::Backend("timed out waiting for a connection".into()))?
                .map_err(|_| StoreError::Backend("the store is closed".into()))?;
                let conn = local
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop()
                    .ok_or_else(|| StoreError::Backend("no idle connection".into()))?;
                Ok(Lease::Local {
                    conn: Some(conn),
                    from: local.clone(),
                    _permit: permit,
                })
            }
        }
    }
}

impl Deref for Lease {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Lease::Pool(c) => c,
            Lease::Local { conn, .. } => conn.as_ref().expect("a lease holds its connection"),
        }
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Lease::Pool(c) => c,
            Lease::Local { conn, .. } => conn.as_mut().expect("a lease holds its connection"),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Lease::Local { conn, from, .. } = self {
            if let Some(conn) = conn.take() {
                // Returned before the permit is released (fields drop after
                // this), so the next holder of a permit finds it.
                from.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
        }
    }
}
