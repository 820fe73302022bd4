//! The statements of [`FactorStore`]: authenticator apps, their time steps
//! accepted once by one conditional `UPDATE`, and recovery codes, each used
//! once the same way.

use super::SqlStore;
use crate::factors::{FactorStore, MfaPending, TotpDevice};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

const DEVICE_COLS: &str =
    "id, tenant_id, user_sub, name, sealed_secret, created_at, confirmed_at, last_used_step";

#[async_trait]
impl FactorStore for SqlStore {
    async fn create_totp_device(&self, d: &TotpDevice) -> Result<()> {
        self.write(Write::new().then(
            format!(
                "INSERT INTO totp_devices ({DEVICE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                (&d.id).into(),
                (&d.tenant_id).into(),
                (&d.user_sub).into(),
                (&d.name).into(),
                (&d.sealed_secret).into(),
                d.created_at.into(),
                d.confirmed_at.into(),
                d.last_used_step.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn confirm_totp_device(
        &self,
        tenant_id: &str,
        user_sub: &str,
        id: &str,
        name: &str,
        step: i64,
        now: i64,
    ) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE totp_devices SET confirmed_at = $1, last_used_step = $2, name = $6 \
             WHERE id = $3 AND tenant_id = $4 AND user_sub = $5 AND confirmed_at IS NULL",
            &[
                now.into(),
                step.into(),
                id.into(),
                tenant_id.into(),
                user_sub.into(),
                name.into(),
            ],
        ))
        .await
    }

    async fn totp_devices(&self, tenant_id: &str, user_sub: &str) -> Result<Vec<TotpDevice>> {
        self.all(
            &format!(
                "SELECT {DEVICE_COLS} FROM totp_devices WHERE tenant_id = $1 AND user_sub = $2 \
                 ORDER BY created_at, id"
            ),
            &[tenant_id.into(), user_sub.into()],
            |r| {
                Ok(TotpDevice {
                    id: r.text("id")?,
                    tenant_id: r.text("tenant_id")?,
                    user_sub: r.text("user_sub")?,
                    name: r.text("name")?,
                    sealed_secret: r.text("sealed_secret")?,
                    created_at: r.int("created_at")?,
                    confirmed_at: r.opt_int("confirmed_at")?,
                    last_used_step: r.opt_int("last_used_step")?,
                })
            },
        )
        .await
    }

    async fn delete_totp_device(&self, tenant_id: &str, user_sub: &str, id: &str) -> Result<bool> {
        self.write_one(Write::new().then(
            "DELETE FROM totp_devices WHERE id = $1 AND tenant_id = $2 AND user_sub = $3",
            &[id.into(), tenant_id.into(), user_sub.into()],
        ))
        .await
    }

    async fn use_totp_step(&self, device_id: &str, step: i64) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE totp_devices SET last_used_step = $1 \
             WHERE id = $2 AND confirmed_at IS NOT NULL \
             AND (last_used_step IS NULL OR last_used_step < $1)",
            &[step.into(), device_id.into()],
        ))
        .await
    }

    async fn create_mfa_pending(&self, hash: &str, p: &MfaPending) -> Result<()> {
        let amr = p.amr.join(" ");
        self.write(Write::new().then(
            "INSERT INTO mfa_pending (hash, tenant_id, user_sub, created_at, expires_at, amr, request) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                hash.into(),
                (&p.tenant_id).into(),
                (&p.user_sub).into(),
                p.created_at.into(),
                p.expires_at.into(),
                (&amr).into(),
                (&p.request).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn mfa_pending(&self, hash: &str) -> Result<Option<MfaPending>> {
        self.first(
            "SELECT tenant_id, user_sub, created_at, expires_at, used_at, amr, request FROM mfa_pending WHERE hash = $1",
            &[hash.into()],
            |r| {
                Ok(MfaPending {
                    tenant_id: r.text("tenant_id")?,
                    user_sub: r.text("user_sub")?,
                    created_at: r.int("created_at")?,
                    expires_at: r.int("expires_at")?,
                    used_at: r.opt_int("used_at")?,
                    amr: crate::row::words(&r.text("amr")?),
                    request: r.opt_text("request")?,
                })
            },
        )
        .await
    }

    async fn finish_mfa_pending(&self, hash: &str, now: i64) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE mfa_pending SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
            &[hash.into(), now.into()],
        ))
        .await
    }

    async fn replace_recovery_codes(
        &self,
        tenant_id: &str,
        user_sub: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<()> {
        let write = hashes.iter().fold(
            Write::new().then(
                "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), user_sub.into()],
            ),
            |w, hash| {
                w.then(
                    "INSERT INTO recovery_codes (tenant_id, user_sub, hash, created_at) \
                     VALUES ($1, $2, $3, $4)",
                    &[tenant_id.into(), user_sub.into(), hash.into(), now.into()],
                )
            },
        );
        self.write(write).await?;
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        tenant_id: &str,
        user_sub: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE tenant_id = $2 AND user_sub = $3 AND hash = $4 AND used_at IS NULL",
            &[now.into(), tenant_id.into(), user_sub.into(), hash.into()],
        ))
        .await
    }

    async fn recovery_codes_left(&self, tenant_id: &str, user_sub: &str) -> Result<i64> {
        let n = self
            .first(
                "SELECT COUNT(*) AS n FROM recovery_codes \
                 WHERE tenant_id = $1 AND user_sub = $2 AND used_at IS NULL",
                &[tenant_id.into(), user_sub.into()],
                |r| r.int("n"),
            )
            .await?;
        Ok(n.unwrap_or(0))
    }

    async fn delete_recovery_codes_without_factor(
        &self,
        tenant_id: &str,
        user_sub: &str,
    ) -> Result<u64> {
        let done = self
            .write(Write::new().then(
                "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_sub = $2 \
                 AND NOT EXISTS (SELECT 1 FROM totp_devices WHERE tenant_id = $1 \
                 AND user_sub = $2 AND confirmed_at IS NOT NULL) \
                 AND NOT EXISTS (SELECT 1 FROM passkeys WHERE tenant_id = $1 AND user_sub = $2)",
                &[tenant_id.into(), user_sub.into()],
            ))
            .await?;
        Ok(done.changed(0))
    }

    async fn reset_factors(&self, tenant_id: &str, user_sub: &str, now: i64) -> Result<()> {
        let write = super::logouts::queue_logouts_of_person(Write::new(), tenant_id, user_sub, now);
        let write = [
            "DELETE FROM totp_devices WHERE tenant_id = $1 AND user_sub = $2",
            "DELETE FROM passkeys WHERE tenant_id = $1 AND user_sub = $2",
            "DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND user_sub = $2",
            "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_sub = $2",
            "DELETE FROM sessions WHERE tenant_id = $1 AND user_sub = $2",
        ]
        .iter()
        .fold(write, |w, sql| {
            w.then(*sql, &[tenant_id.into(), user_sub.into()])
        });
        self.write(write).await?;
        Ok(())
    }
}
