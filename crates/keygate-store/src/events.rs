//! Audit events (docs/events.md): appended, never changed, listed newest
//! first, and deleted by the sweeper once past their retention (each row
//! carries its own `expires_at`, set from the retention when written).

use crate::Result;
use async_trait::async_trait;
use keygate_core::events::{Event, EventFilter};

/// The append-only event log.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends an event, kept until `expires_at`.
    async fn append_event(&self, event: &Event, expires_at: i64) -> Result<()>;
    /// Up to `limit` events matching `filter`, newest first.
    async fn list_events(&self, filter: &EventFilter, limit: i64) -> Result<Vec<Event>>;
}
