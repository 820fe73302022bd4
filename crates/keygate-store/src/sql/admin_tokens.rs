//! The statements of [`AdminTokenStore`]: the admin API's tokens by hash.

use super::SqlStore;
use crate::write::Write;
use crate::{AdminTokenStore, Result};
use async_trait::async_trait;

#[async_trait]
impl AdminTokenStore for SqlStore {
    async fn create_admin_token(&self, token: &crate::AdminToken, hash: &str) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO admin_tokens (id, hash, created_at) VALUES ($1, $2, $3)",
            &[(&token.id).into(), hash.into(), token.created_at.into()],
        ))
        .await?;
        Ok(())
    }

    async fn admin_token_exists(&self, hash: &str) -> Result<bool> {
        self.exists("SELECT 1 FROM admin_tokens WHERE hash = $1", &[hash.into()])
            .await
    }

    async fn admin_token_id(&self, hash: &str) -> Result<Option<String>> {
        let ids = self
            .all(
                "SELECT id FROM admin_tokens WHERE hash = $1",
                &[hash.into()],
                |r| r.text("id"),
            )
            .await?;
        Ok(ids.into_iter().next())
    }

    async fn list_admin_tokens(&self) -> Result<Vec<crate::AdminToken>> {
        self.all(
            "SELECT id, created_at FROM admin_tokens ORDER BY created_at, id",
            &[],
            |r| {
                Ok(crate::AdminToken {
                    id: r.text("id")?,
                    created_at: r.int("created_at")?,
                })
            },
        )
        .await
    }

    async fn delete_admin_token(&self, id: &str) -> Result<bool> {
        self.write_one(Write::new().then("DELETE FROM admin_tokens WHERE id = $1", &[id.into()]))
            .await
    }
}
