//! How a store is opened: connection settings and SQLite's [`Linger`],
//! chosen by the caller because only it knows its load.

use std::sync::Arc;

/// Connection settings (pool size and timeouts) and SQLite's [`Linger`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The most connections PostgreSQL's pool opens.
    pub max_connections: u32,
    /// How long a statement waits for a connection (or a busy SQLite file).
    pub acquire_timeout_secs: u64,
    /// `None`: SQLite's writer commits what waits as soon as it can.
    pub linger: Option<Linger>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout_secs: 10,
            linger: None,
        }
    }
}

/// When SQLite's writer waits a moment for more writes before it begins a
/// transaction, so that they commit together (see `sqlite/writer.rs`).
///
/// Waiting costs a request its wait unless the request would wait that
/// long further on anyway; only the caller knows when that is (the server:
/// while its signing queue is deep), so the caller says through `when`.
#[derive(Clone)]
pub struct Linger {
    /// How long the writer waits.
    pub wait: std::time::Duration,
    /// Asked before each transaction: whether to wait first. It must be
    /// cheap and must not block.
    pub when: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Linger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linger").field("wait", &self.wait).finish()
    }
}
