//! The statements of [`KeyStore`]: the tenants' sealed signing keys, and
//! the client lifetimes that say how long a retiring key stays published.

use super::SqlStore;
use crate::row::Cols;
use crate::write::Write;
use crate::{KeyStore, Result, StoredKey};
use async_trait::async_trait;

fn key_from(row: &dyn Cols) -> Result<StoredKey> {
    Ok(StoredKey {
        kid: row.text("kid")?,
        tenant_id: row.text("tenant_id")?,
        alg: row.text("alg")?,
        seq: row.int("seq")?,
        sealed_private: row.text("sealed_private")?,
        public_jwk: row.text("public_jwk")?,
        created_at: row.int("created_at")?,
        activates_at: row.int("activates_at")?,
        retires_at: row.opt_int("retires_at")?,
    })
}

fn one_int(row: &dyn Cols) -> Result<i64> {
    row.int("v")
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<StoredKey>> {
        self.all(
            "SELECT kid, tenant_id, alg, seq, sealed_private, public_jwk, created_at, activates_at, retires_at \
             FROM signing_keys WHERE tenant_id = $1 ORDER BY alg, seq",
            &[tenant_id.into()],
            key_from,
        )
        .await
    }

    async fn insert_signing_key(&self, k: &StoredKey) -> Result<bool> {
        self.write_one(Write::new().then(
            "INSERT INTO signing_keys (kid, tenant_id, alg, seq, sealed_private, public_jwk, created_at, activates_at, retires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, alg, seq) DO NOTHING",
            &[
                (&k.kid).into(),
                (&k.tenant_id).into(),
                (&k.alg).into(),
                k.seq.into(),
                (&k.sealed_private).into(),
                (&k.public_jwk).into(),
                k.created_at.into(),
                k.activates_at.into(),
                k.retires_at.into(),
            ],
        ))
        .await
    }

    async fn set_key_retirement(&self, kid: &str, retires_at: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE signing_keys SET retires_at = $1 WHERE kid = $2",
            &[retires_at.into(), kid.into()],
        ))
        .await?;
        Ok(())
    }

    async fn max_token_ttl(&self, tenant_id: &str) -> Result<i64> {
        let ttl = self
            .first(
                "SELECT COALESCE(MAX(CASE WHEN id_token_ttl > access_token_ttl THEN id_token_ttl ELSE access_token_ttl END), 0) AS v \
                 FROM clients WHERE tenant_id = $1",
                &[tenant_id.into()],
                one_int,
            )
            .await?
            .unwrap_or(0);
        Ok(ttl.max(keygate_core::model::DEFAULT_ID_TOKEN_TTL))
    }
}
