//! The statements of [`ResetStore`]: password-reset links, used in the
//! same transaction as the change they allow.

use super::SqlStore;
use crate::reset::{ResetLink, ResetStore};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

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
            .exactly_one();
        let write = super::logouts::queue_logouts_of_person(write, tenant_id, user_sub, now)
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
