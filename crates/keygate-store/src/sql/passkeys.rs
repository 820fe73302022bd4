//! The statements of [`PasskeyStore`]: passkeys, and ceremonies taken once
//! by one conditional `DELETE`.

use super::SqlStore;
use crate::passkeys::{PasskeyCeremony, PasskeyStore, StoredPasskey};
use crate::row::Cols;
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

const PASSKEY_COLS: &str = "id, tenant_id, user_sub, credential_id, passkey, name, created_at, \
                            last_used_at, backup_eligible";

fn decode(r: &dyn Cols) -> Result<StoredPasskey> {
    Ok(StoredPasskey {
        id: r.text("id")?,
        tenant_id: r.text("tenant_id")?,
        user_sub: r.text("user_sub")?,
        credential_id: r.text("credential_id")?,
        passkey: r.text("passkey")?,
        name: r.text("name")?,
        created_at: r.int("created_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        backup_eligible: r.flag("backup_eligible")?,
    })
}

#[async_trait]
impl PasskeyStore for SqlStore {
    async fn create_passkey(&self, p: &StoredPasskey) -> Result<()> {
        self.write(
            Write::new()
                .then(
                    format!(
                        "INSERT INTO passkeys ({PASSKEY_COLS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ),
                    &[
                        (&p.id).into(),
                        (&p.tenant_id).into(),
                        (&p.user_sub).into(),
                        (&p.credential_id).into(),
                        (&p.passkey).into(),
                        (&p.name).into(),
                        p.created_at.into(),
                        p.last_used_at.into(),
                        p.backup_eligible.into(),
                    ],
                )
                .conflict("this passkey is already registered"),
        )
        .await?;
        Ok(())
    }

    async fn passkeys(&self, tenant_id: &str, user_sub: &str) -> Result<Vec<StoredPasskey>> {
        self.all(
            &format!(
                "SELECT {PASSKEY_COLS} FROM passkeys WHERE tenant_id = $1 AND user_sub = $2 \
                 ORDER BY created_at, id"
            ),
            &[tenant_id.into(), user_sub.into()],
            decode,
        )
        .await
    }

    async fn passkey_by_credential(
        &self,
        tenant_id: &str,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>> {
        self.first(
            &format!(
                "SELECT {PASSKEY_COLS} FROM passkeys WHERE tenant_id = $1 AND credential_id = $2"
            ),
            &[tenant_id.into(), credential_id.into()],
            decode,
        )
        .await
    }

    async fn passkey_used(
        &self,
        tenant_id: &str,
        id: &str,
        passkey: &str,
        backup_eligible: bool,
        now: i64,
    ) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE passkeys SET passkey = $1, backup_eligible = $2, last_used_at = $3 \
             WHERE id = $4 AND tenant_id = $5",
            &[
                passkey.into(),
                backup_eligible.into(),
                now.into(),
                id.into(),
                tenant_id.into(),
            ],
        ))
        .await
    }

    async fn delete_passkey(&self, tenant_id: &str, user_sub: &str, id: &str) -> Result<bool> {
        self.write_one(Write::new().then(
            "DELETE FROM passkeys WHERE id = $1 AND tenant_id = $2 AND user_sub = $3",
            &[id.into(), tenant_id.into(), user_sub.into()],
        ))
        .await
    }

    async fn create_passkey_ceremony(&self, hash: &str, c: &PasskeyCeremony) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO passkey_ceremonies (hash, tenant_id, user_sub, kind, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                hash.into(),
                (&c.tenant_id).into(),
                (&c.user_sub).into(),
                (&c.kind).into(),
                (&c.state).into(),
                c.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn take_passkey_ceremony(
        &self,
        hash: &str,
        tenant_id: &str,
        now: i64,
    ) -> Result<Option<PasskeyCeremony>> {
        // A ceremony never changes once stored, so it is read first; the
        // conditional DELETE below still decides the one winner.
        let found = self
            .first(
                "SELECT tenant_id, user_sub, kind, state, expires_at FROM passkey_ceremonies \
                 WHERE hash = $1 AND tenant_id = $2",
                &[hash.into(), tenant_id.into()],
                |r| {
                    Ok(PasskeyCeremony {
                        tenant_id: r.text("tenant_id")?,
                        user_sub: r.opt_text("user_sub")?,
                        kind: r.text("kind")?,
                        state: r.text("state")?,
                        expires_at: r.int("expires_at")?,
                    })
                },
            )
            .await?;
        let Some(ceremony) = found.filter(|c| c.expires_at > now) else {
            return Ok(None);
        };
        let taken = self
            .write_one(Write::new().then(
                "DELETE FROM passkey_ceremonies \
                 WHERE hash = $1 AND tenant_id = $2 AND expires_at > $3",
                &[hash.into(), tenant_id.into(), now.into()],
            ))
            .await?;
        Ok(taken.then_some(ceremony))
    }
}
