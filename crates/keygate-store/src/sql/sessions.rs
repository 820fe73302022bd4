//! The statements of [`SessionStore`]: one row per session, by cookie hash.

use super::SqlStore;
use crate::write::Write;
use crate::{Result, SessionStore};
use async_trait::async_trait;
use keygate_core::model::Session;

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, id_hash: &str, s: &Session) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO sessions (id_hash, tenant_id, user_sub, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                id_hash.into(),
                (&s.tenant_id).into(),
                (&s.user_sub).into(),
                s.auth_time.into(),
                s.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>> {
        self.first(
            "SELECT tenant_id, user_sub, auth_time, expires_at FROM sessions WHERE id_hash = $1",
            &[id_hash.into()],
            |r| {
                Ok(Session {
                    tenant_id: r.text("tenant_id")?,
                    user_sub: r.text("user_sub")?,
                    auth_time: r.int("auth_time")?,
                    expires_at: r.int("expires_at")?,
                })
            },
        )
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.write(Write::new().then("DELETE FROM sessions WHERE id_hash = $1", &[id_hash.into()]))
            .await?;
        Ok(())
    }
}
