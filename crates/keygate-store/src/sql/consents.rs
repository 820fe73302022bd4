//! The statements of [`ConsentStore`]: `consents` by (tenant, person,
//! client, resource), scopes space-separated.

use super::SqlStore;
use crate::row::{words, Cols};
use crate::write::Write;
use crate::{ConsentStore, Result};
use async_trait::async_trait;
use keygate_core::model::Consent;

const COLS: &str = "tenant_id, user_sub, client_id, resource, scopes, granted_at";

fn consent_from(r: &dyn Cols) -> Result<Consent> {
    Ok(Consent {
        tenant_id: r.text("tenant_id")?,
        user_sub: r.text("user_sub")?,
        client_id: r.text("client_id")?,
        resource: r.text("resource")?,
        scopes: words(&r.text("scopes")?),
        granted_at: r.int("granted_at")?,
    })
}

#[async_trait]
impl ConsentStore for SqlStore {
    async fn save_consent(&self, c: &Consent) -> Result<()> {
        let scopes = c.scopes.join(" ");
        self.write(Write::new().then(
            format!(
                "INSERT INTO consents ({COLS}) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, user_sub, client_id, resource) \
                 DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at"
            ),
            &[
                (&c.tenant_id).into(),
                (&c.user_sub).into(),
                (&c.client_id).into(),
                (&c.resource).into(),
                (&scopes).into(),
                c.granted_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn consent(
        &self,
        tenant_id: &str,
        user_sub: &str,
        client_id: &str,
        resource: &str,
    ) -> Result<Option<Consent>> {
        self.first(
            &format!(
                "SELECT {COLS} FROM consents WHERE tenant_id = $1 AND user_sub = $2 \
                 AND client_id = $3 AND resource = $4"
            ),
            &[
                tenant_id.into(),
                user_sub.into(),
                client_id.into(),
                resource.into(),
            ],
            consent_from,
        )
        .await
    }

    async fn consents_of(&self, tenant_id: &str, user_sub: &str) -> Result<Vec<Consent>> {
        self.all(
            &format!(
                "SELECT {COLS} FROM consents WHERE tenant_id = $1 AND user_sub = $2 \
                 ORDER BY client_id, resource LIMIT 500"
            ),
            &[tenant_id.into(), user_sub.into()],
            consent_from,
        )
        .await
    }

    async fn revoke_consent(
        &self,
        tenant_id: &str,
        user_sub: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool> {
        // One row per API: any deleted means there was a consent.
        let done = self
            .write(
            Write::new()
                .then(
                    "DELETE FROM consents WHERE tenant_id = $1 AND user_sub = $2 AND client_id = $3",
                    &[tenant_id.into(), user_sub.into(), client_id.into()],
                )
                .then(
                    "UPDATE grants SET revoked_at = $4 WHERE tenant_id = $1 AND user_sub = $2 \
                     AND client_id = $3 AND revoked_at IS NULL",
                    &[
                        tenant_id.into(),
                        user_sub.into(),
                        client_id.into(),
                        now.into(),
                    ],
                ),
        )
        .await?;
        Ok(done.changed(0) > 0)
    }
}
