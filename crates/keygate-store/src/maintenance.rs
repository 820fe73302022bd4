//! What keeps a store healthy rather than serving a request: the readiness
//! probe and the sweep of expired rows.

use crate::Result;
use async_trait::async_trait;

/// Readiness and the sweep of expired rows.
#[async_trait]
pub trait MaintenanceStore: Send + Sync + 'static {
    /// Store reachable and migrated (for readiness probes).
    async fn ping(&self) -> Result<()>;
    /// Deletes up to `batch` expired rows of each kind; returns what was
    /// deleted per table. Safe to run on several nodes at once.
    async fn sweep(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>>;
}
