//! The statements of [`SessionStore`]: one row per session, by cookie hash.

use super::SqlStore;
use crate::row::Cols;
use crate::write::Write;
use crate::{Result, SessionStore};
use async_trait::async_trait;
use keygate_core::model::Session;

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, id_hash: &str, s: &Session) -> Result<()> {
        let amr = s.amr.join(" ");
        self.write(Write::new().then(
            "INSERT INTO sessions (id_hash, tenant_id, user_sub, auth_time, expires_at, ip, user_agent, amr, sid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                id_hash.into(),
                (&s.tenant_id).into(),
                (&s.user_sub).into(),
                s.auth_time.into(),
                s.expires_at.into(),
                (&s.ip).into(),
                (&s.user_agent).into(),
                (&amr).into(),
                (&s.sid).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>> {
        self.first(
            "SELECT tenant_id, user_sub, auth_time, expires_at, ip, user_agent, amr, sid FROM sessions WHERE id_hash = $1",
            &[id_hash.into()],
            session,
        )
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.write(Write::new().then("DELETE FROM sessions WHERE id_hash = $1", &[id_hash.into()]))
            .await?;
        Ok(())
    }

    async fn end_session(&self, id_hash: &str, now: i64) -> Result<()> {
        self.write(super::logouts::ends_session(Write::new(), id_hash, now))
            .await?;
        Ok(())
    }

    async fn sessions_of(
        &self,
        tenant_id: &str,
        sub: &str,
        now: i64,
    ) -> Result<Vec<(String, Session)>> {
        self.all(
            "SELECT id_hash, tenant_id, user_sub, auth_time, expires_at, ip, user_agent, amr, sid FROM sessions WHERE tenant_id = $1 AND user_sub = $2 AND expires_at > $3 ORDER BY auth_time DESC, id_hash LIMIT 100",
            &[tenant_id.into(), sub.into(), now.into()],
            |r| Ok((r.text("id_hash")?, session(r)?)),
        )
        .await
    }

    async fn end_sessions_of(&self, tenant_id: &str, sub: &str, now: i64) -> Result<()> {
        self.write(super::users::ends_everything(
            Write::new(),
            tenant_id,
            sub,
            now,
        ))
        .await?;
        Ok(())
    }
}

/// A session from its row.
fn session(r: &dyn Cols) -> Result<Session> {
    Ok(Session {
        tenant_id: r.text("tenant_id")?,
        user_sub: r.text("user_sub")?,
        auth_time: r.int("auth_time")?,
        expires_at: r.int("expires_at")?,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
        amr: crate::row::words(&r.text("amr")?),
        sid: r.text("sid")?,
    })
}
