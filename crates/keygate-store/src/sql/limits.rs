//! The statements of [`LimitStore`]: one row per key, counted and blocked
//! by single statements so that parallel attempts count in turn.

use super::SqlStore;
use crate::write::{Returned, Write};
use crate::{LimitStore, Result, StoreError};
use async_trait::async_trait;

/// One statement reserves an attempt (see [`LimitStore::reserve_attempt`]):
/// while `key` is blocked nothing changes and the attempt is refused;
/// otherwise the attempt is counted (a new window starts when the old one has
/// passed) and the one that reaches the limit blocks `key` for `base_block`.
/// `granted` keeps this statement's verdict for RETURNING, which sees only
/// the new row: the count when granted, minus the seconds left when refused.
/// ($1 key, $2 now, $3 window, $4 max failures, $5 base block.)
const RESERVE_ATTEMPT_SQL: &str = "INSERT INTO rate_limits (key, window_start, failures, blocked_until, granted) \
     VALUES ($1, $2, 1, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE 0 END, 1) \
     ON CONFLICT (key) DO UPDATE SET \
       granted = CASE WHEN rate_limits.blocked_until > $2 THEN 0 ELSE 1 END, \
       failures = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.failures \
         WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END, \
       window_start = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.window_start \
         WHEN rate_limits.window_start + $3 < $2 THEN $2 ELSE rate_limits.window_start END, \
       blocked_until = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.blocked_until \
         WHEN (CASE WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END) >= $4 \
         THEN $2 + $5 ELSE 0 END \
     RETURNING CASE WHEN granted = 1 THEN failures ELSE $2 - blocked_until END";

#[async_trait]
impl LimitStore for SqlStore {
    async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<crate::Attempt> {
        let done = self
            .write(
                Write::new()
                    .then(
                        RESERVE_ATTEMPT_SQL,
                        &[
                            key.into(),
                            now.into(),
                            policy.window.into(),
                            policy.max_failures.into(),
                            policy.base_block.into(),
                        ],
                    )
                    .returning(),
            )
            .await?;
        match done.first_returned(0) {
            Some(Returned::Int(n)) if *n > 0 => Ok(crate::Attempt::Granted { count: *n }),
            Some(Returned::Int(n)) => Ok(crate::Attempt::Refused {
                retry_after: (-*n).max(1),
            }),
            _ => Err(StoreError::Backend("no attempt verdict returned".into())),
        }
    }

    async fn attempt_failed(
        &self,
        key: &str,
        count: i64,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<()> {
        if let Some(secs) = policy.block_for(count) {
            self.write(Write::new().then(
                "UPDATE rate_limits SET blocked_until = CASE WHEN blocked_until < $1 THEN $1 ELSE blocked_until END WHERE key = $2",
                &[(now + secs).into(), key.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn release_attempt(&self, key: &str, policy: &crate::LimitPolicy) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE rate_limits SET failures = failures - 1, \
               blocked_until = CASE WHEN failures - 1 < $2 THEN 0 ELSE blocked_until END \
             WHERE key = $1 AND failures > 0",
            &[key.into(), policy.max_failures.into()],
        ))
        .await?;
        Ok(())
    }

    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<Option<i64>> {
        // One statement: a new window starts when the old one has passed.
        let done = self
            .write(
                Write::new()
                    .then(
                        "INSERT INTO rate_limits (key, window_start, failures, blocked_until) VALUES ($1, $2, 1, 0) \
                         ON CONFLICT (key) DO UPDATE SET \
                           failures = CASE WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END, \
                           window_start = CASE WHEN rate_limits.window_start + $3 < $2 THEN $2 ELSE rate_limits.window_start END \
                         RETURNING failures",
                        &[key.into(), now.into(), policy.window.into()],
                    )
                    .returning(),
            )
            .await?;
        let failures = match done.first_returned(0) {
            Some(Returned::Int(n)) => *n,
            _ => return Err(StoreError::Backend("no failure count returned".into())),
        };
        let block = policy.block_for(failures);
        if let Some(secs) = block {
            self.write(Write::new().then(
                "UPDATE rate_limits SET blocked_until = $1 WHERE key = $2",
                &[(now + secs).into(), key.into()],
            ))
            .await?;
        }
        Ok(block)
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        self.write(Write::new().then("DELETE FROM rate_limits WHERE key = $1", &[key.into()]))
            .await?;
        Ok(())
    }
}
