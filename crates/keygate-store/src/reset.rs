//! Password-reset links: stored only as the SHA-256 of their token, good
//! once and until they expire.
//!
//! Using a link is one atomic write: the statement that marks the link used
//! (`UPDATE ... WHERE used_at IS NULL AND expires_at > now RETURNING`)
//! decides the one winner among racing submissions, and in the same
//! transaction the person's password is replaced, their sessions end, their
//! grants (and so their refresh and access tokens) are revoked, and their
//! other live links are used up.

use crate::metered::Metered;
use crate::outbox::record;
use crate::sql::SqlStore;
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;
use std::time::Instant;

/// A password-reset link as stored (its hash aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetLink {
    pub tenant_id: String,
    pub user_sub: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Stores a new link under the SHA-256 (hex) of its token.
    async fn create_reset_link(&self, hash: &str, link: &ResetLink) -> Result<()>;
    /// The link stored under this hash, used or not, expired or not.
    async fn reset_link(&self, hash: &str) -> Result<Option<ResetLink>>;
    /// Uses the link (if it is still unused, unexpired and names this
    /// person, and the person is not disabled) and, in the same
    /// transaction, sets the person's password hash, ends their sessions,
    /// revokes their grants and uses up their other links. Whether this
    /// call won.
    async fn use_reset_link(
        &self,
        hash: &str,
        tenant_id: &str,
        user_sub: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool>;
}

#[async_trait]
impl ResetStore for SqlStore {
    async fn create_reset_link(&self, hash: &str, l: &ResetLink) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO reset_tokens (hash, tenant_id, user_sub, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                hash.into(),
                (&l.tenant_id).into(),
                (&l.user_sub).into(),
                l.created_at.into(),
                l.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn reset_link(&self, hash: &str) -> Result<Option<ResetLink>> {
        self.first(
            "SELECT tenant_id, user_sub, created_at, expires_at, used_at FROM reset_tokens WHERE hash = $1",
            &[hash.into()],
            |r| {
                Ok(ResetLink {
                    tenant_id: r.text("tenant_id")?,
                    user_sub: r.text("user_sub")?,
                    created_at: r.int("created_at")?,
                    expires_at: r.int("expires_at")?,
                    used_at: r.opt_int("used_at")?,
                })
            },
        )
        .await
    }

    async fn use_reset_link(
        &self,
        hash: &str,
        tenant_id: &str,
        user_sub: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let write = Write::new()
            .then(
                "UPDATE reset_tokens SET used_at = $2 \
                 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 AND tenant_id = $3 AND user_sub = $4 \
                 RETURNING hash",
                &[hash.into(), now.into(), tenant_id.into(), user_sub.into()],
            )
            .returning()
            .exactly_one()
            .then(
                "UPDATE users SET password_hash = $1 WHERE tenant_id = $2 AND sub = $3 AND disabled = 0",
                &[password_hash.into(), tenant_id.into(), user_sub.into()],
            )
            .exactly_one()
            .then(
                "DELETE FROM sessions WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), user_sub.into()],
            )
            .then(
                "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND user_sub = $3 AND revoked_at IS NULL",
                &[now.into(), tenant_id.into(), user_sub.into()],
            )
            .then(
                "UPDATE reset_tokens SET used_at = $1 WHERE tenant_id = $2 AND user_sub = $3 AND used_at IS NULL",
                &[now.into(), tenant_id.into(), user_sub.into()],
            );
        Ok(!self.write(write).await?.is_undone())
    }
}

#[async_trait]
impl ResetStore for Metered {
    async fn create_reset_link(&self, hash: &str, link: &ResetLink) -> Result<()> {
        let started = Instant::now();
        let out = self.0.create_reset_link(hash, link).await;
        record("create_reset_link", started);
        out
    }

    async fn reset_link(&self, hash: &str) -> Result<Option<ResetLink>> {
        let started = Instant::now();
        let out = self.0.reset_link(hash).await;
        record("reset_link", started);
        out
    }

    async fn use_reset_link(
        &self,
        hash: &str,
        tenant_id: &str,
        user_sub: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let started = Instant::now();
        let out = self
            .0
            .use_reset_link(hash, tenant_id, user_sub, password_hash, now)
            .await;
        record("use_reset_link", started);
        out
    }
}
