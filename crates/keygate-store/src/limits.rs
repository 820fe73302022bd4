//! Brute-force limits, shared by every node through the store.

use crate::Result;
use async_trait::async_trait;

/// What [`LimitStore::reserve_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead; this is the `count`th attempt of the current window.
    Granted {
        /// The attempt's number in the current window (1, 2, ...).
        count: i64,
    },
    /// Blocked: try again in this many seconds (at least 1).
    Refused {
        /// Seconds until the block ends (at least 1).
        retry_after: i64,
    },
}

/// After `max_failures` failures within `window` seconds, a key is blocked
/// for `base_block` seconds, doubling with each further failure up to
/// `max_block` (a growing delay rather than a hard lock-out an attacker
/// could use to lock people out for long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitPolicy {
    /// Failures allowed within a window before a block.
    pub max_failures: i64,
    /// The window's length, in seconds.
    pub window: i64,
    /// The first block's length, in seconds.
    pub base_block: i64,
    /// The longest block, in seconds.
    pub max_block: i64,
}

impl LimitPolicy {
    /// How long `failures` failures block for.
    pub fn block_for(&self, failures: i64) -> Option<i64> {
        if failures < self.max_failures {
            return None;
        }
        let doublings = (failures - self.max_failures).min(20) as u32;
        Some(
            self.base_block
                .saturating_mul(1i64 << doublings)
                .min(self.max_block),
        )
    }
}

/// Counted attempts and failures per key (an account, an address, a
/// client), and the blocks they earn.
#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// Reserves one attempt of `key` before its secret is checked, in one
    /// statement that counts it and refuses it while `key` is blocked, so
    /// that parallel attempts cannot all slip in before the first failure
    /// is written. The attempt that reaches the policy's limit blocks `key`
    /// provisionally (for `base_block`) until its outcome is known.
    async fn reserve_attempt(&self, key: &str, now: i64, policy: &LimitPolicy) -> Result<Attempt>;
    /// Settles a granted attempt that failed: blocks `key` for as long as
    /// the policy says for `count` failures (never shortening a block).
    async fn attempt_failed(
        &self,
        key: &str,
        count: i64,
        now: i64,
        policy: &LimitPolicy,
    ) -> Result<()>;
    /// Takes back a granted attempt that was not a failure (it succeeded,
    /// or another limit refused it), lifting the provisional block it set.
    async fn release_attempt(&self, key: &str, policy: &LimitPolicy) -> Result<()>;
    /// Counts a failure of `key` and blocks it when the policy says so;
    /// returns the seconds it is now blocked for, if any.
    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &LimitPolicy,
    ) -> Result<Option<i64>>;
    /// Forgets the failures of `key` (after a success).
    async fn clear_failures(&self, key: &str) -> Result<()>;
}
