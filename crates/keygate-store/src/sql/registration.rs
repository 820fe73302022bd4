//! The statements of [`RegistrationStore`].

use super::SqlStore;
use crate::write::Write;
use crate::{RegistrationStore, Result};
use async_trait::async_trait;

#[async_trait]
impl RegistrationStore for SqlStore {
    async fn create_registration_token(
        &self,
        hash: &str,
        tenant_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO registration_tokens (hash, tenant_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                hash.into(),
                tenant_id.into(),
                created_at.into(),
                expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn registration_token_valid(
        &self,
        hash: &str,
        tenant_id: &str,
        now: i64,
    ) -> Result<bool> {
        self.exists(
            "SELECT 1 FROM registration_tokens WHERE hash = $1 AND tenant_id = $2 AND expires_at > $3",
            &[hash.into(), tenant_id.into(), now.into()],
        )
        .await
    }

    async fn mark_client_used(&self, tenant_id: &str, client_id: &str, now: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE clients SET first_used_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND first_used_at IS NULL",
            &[tenant_id.into(), client_id.into(), now.into()],
        ))
        .await?;
        Ok(())
    }
}
