//! The statements of [`EmailLinkStore`]: e-mail links, used in the same
//! transaction as the change they make.

use super::users::ends_everything;
use super::SqlStore;
use crate::email_links::{EmailLink, EmailLinkPurpose, EmailLinkStore};
use crate::write::Write;
use crate::{Result, StoreError};
use async_trait::async_trait;

#[async_trait]
impl EmailLinkStore for SqlStore {
    async fn create_email_link(&self, hash: &str, l: &EmailLink) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO email_links (hash, tenant_id, user_sub, email, purpose, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                hash.into(),
                (&l.tenant_id).into(),
                (&l.user_sub).into(),
                (&l.email).into(),
                l.purpose.as_str().into(),
                l.created_at.into(),
                l.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn email_link(&self, hash: &str) -> Result<Option<EmailLink>> {
        self.first(
            "SELECT tenant_id, user_sub, email, purpose, created_at, expires_at, used_at \
             FROM email_links WHERE hash = $1",
            &[hash.into()],
            |r| {
                let purpose = r.text("purpose")?;
                Ok(EmailLink {
                    tenant_id: r.text("tenant_id")?,
                    user_sub: r.text("user_sub")?,
                    email: r.text("email")?,
                    purpose: EmailLinkPurpose::parse(&purpose).ok_or_else(|| {
                        StoreError::Backend(format!("unknown e-mail link purpose '{purpose}'"))
                    })?,
                    created_at: r.int("created_at")?,
                    expires_at: r.int("expires_at")?,
                    used_at: r.opt_int("used_at")?,
                })
            },
        )
        .await
    }

    async fn use_email_link(&self, hash: &str, now: i64) -> Result<Option<EmailLink>> {
        // What the link names never changes once stored, so it is read
        // first; the conditional UPDATE below still decides the winner.
        let Some(link) = self.email_link(hash).await? else {
            return Ok(None);
        };
        if link.used_at.is_some() || link.expires_at <= now {
            return Ok(None);
        }
        let (t, s, e) = (&link.tenant_id, &link.user_sub, &link.email);
        let write = Write::new()
            .then(
                "UPDATE email_links SET used_at = $2 \
                 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[hash.into(), now.into()],
            )
            .exactly_one();
        let write = match link.purpose {
            EmailLinkPurpose::Verify => write
                .then(
                    "UPDATE users SET email_verified = $1 WHERE tenant_id = $2 AND sub = $3 AND email = $4",
                    &[true.into(), t.into(), s.into(), e.into()],
                )
                .exactly_one(),
            EmailLinkPurpose::Change => {
                let write = write
                    .then(
                        "UPDATE users SET email = $1, email_verified = $2 WHERE tenant_id = $3 AND sub = $4",
                        &[e.into(), true.into(), t.into(), s.into()],
                    )
                    .conflict(format!("the e-mail '{e}' is already registered"))
                    .exactly_one()
                    // The person's other address changes in flight end here.
                    .then(
                        "UPDATE email_links SET used_at = $1 \
                         WHERE tenant_id = $2 AND user_sub = $3 AND purpose = 'change' AND used_at IS NULL",
                        &[now.into(), t.into(), s.into()],
                    );
                ends_everything(write, t, s, now)
            }
        };
        if self.write(write).await?.is_undone() {
            return Ok(None);
        }
        Ok(Some(link))
    }
}
