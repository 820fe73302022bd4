//! Values that may be used once across every node: the `jti` of a DPoP
//! proof (RFC 9449 11.1) or of a client assertion (RFC 7523 3, item 7).
//!
//! A value is remembered under a key the caller builds (a purpose prefix,
//! the tenant, the issuer of the JWT and its `jti`) until it expires; the
//! first use inserts the row, a second use within that time finds it and
//! loses. One `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired` decides,
//! so two racing requests on two nodes get exactly one winner. The sweeper
//! deletes expired rows.

use crate::Result;
use async_trait::async_trait;

/// Single use of values shared by every node.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Remembers `key` until `expires_at`; whether this is its first use
    /// (a row that expired before `now` counts as unused). `key` should be
    /// short: callers hash long or untrusted values first.
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool>;
}
