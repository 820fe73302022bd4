//! The statements of [`DeviceStore`]: device authorizations, their polls,
//! and the answer that, when it allows, stores the grant in the same
//! transaction.

use super::SqlStore;
use crate::device::DeviceStore;
use crate::row::Cols;
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;
use keygate_core::device::{DeviceAuthorization, DeviceStatus};
use keygate_core::model::Grant;

const COLS: &str = "hash, tenant_id, client_id, scope, resource, created_at, expires_at, \
    poll_interval, last_polled_at, status, user_sub, grant_id";

fn device_from(row: &dyn Cols) -> Result<(String, DeviceAuthorization)> {
    let status = match (row.text("status")?.as_str(), row.opt_text("grant_id")?) {
        ("approved", Some(grant_id)) => DeviceStatus::Approved { grant_id },
        ("denied", _) => DeviceStatus::Denied,
        _ => DeviceStatus::Pending,
    };
    Ok((
        row.text("hash")?,
        DeviceAuthorization {
            tenant_id: row.text("tenant_id")?,
            client_id: row.text("client_id")?,
            scope: row.text("scope")?,
            resource: row.opt_text("resource")?,
            created_at: row.int("created_at")?,
            expires_at: row.int("expires_at")?,
            interval: row.int("poll_interval")?,
            last_polled_at: row.opt_int("last_polled_at")?,
            status,
            user_sub: row.opt_text("user_sub")?,
        },
    ))
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn create_device_authorization(
        &self,
        device_hash: &str,
        user_code_hash: &str,
        d: &DeviceAuthorization,
    ) -> Result<bool> {
        // An expired device authorization gives its user code up; a live
        // one keeps it (the INSERT then does nothing).
        let write = Write::new()
            .then(
                "DELETE FROM device_codes WHERE user_code_hash = $1 AND expires_at <= $2",
                &[user_code_hash.into(), d.created_at.into()],
            )
            .then(
                "INSERT INTO device_codes (hash, user_code_hash, tenant_id, client_id, scope, resource, \
                 created_at, expires_at, poll_interval, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') ON CONFLICT DO NOTHING",
                &[
                    device_hash.into(),
                    user_code_hash.into(),
                    (&d.tenant_id).into(),
                    (&d.client_id).into(),
                    (&d.scope).into(),
                    (&d.resource).into(),
                    d.created_at.into(),
                    d.expires_at.into(),
                    d.interval.into(),
                ],
            );
        Ok(self.write(write).await?.changed(1) == 1)
    }

    async fn device_authorization(&self, device_hash: &str) -> Result<Option<DeviceAuthorization>> {
        Ok(self
            .first(
                &format!("SELECT {COLS} FROM device_codes WHERE hash = $1"),
                &[device_hash.into()],
                device_from,
            )
            .await?
            .map(|(_, d)| d))
    }

    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> Result<Option<(String, DeviceAuthorization)>> {
        self.first(
            &format!("SELECT {COLS} FROM device_codes WHERE user_code_hash = $1"),
            &[user_code_hash.into()],
            device_from,
        )
        .await
    }

    async fn record_device_poll(&self, device_hash: &str, now: i64, interval: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE device_codes SET last_polled_at = $2, poll_interval = $3 \
             WHERE hash = $1 AND status = 'pending'",
            &[device_hash.into(), now.into(), interval.into()],
        ))
        .await?;
        Ok(())
    }

    async fn approve_device(
        &self,
        device_hash: &str,
        g: &Grant,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let amr = g.amr.join(" ");
        let claims = g.claims.to_stored();
        let write = Write::new()
            .then(
                "UPDATE device_codes SET status = 'approved', user_sub = $2, grant_id = $3, answered_at = $4 \
                 WHERE hash = $1 AND status = 'pending' AND expires_at > $4 RETURNING hash",
                &[
                    device_hash.into(),
                    (&g.user_sub).into(),
                    (&g.id).into(),
                    now.into(),
                ],
            )
            .returning()
            .exactly_one()
            .then(
                "INSERT INTO grants (id, tenant_id, client_id, user_sub, scope, auth_time, nonce, code_challenge, \
                 code_challenge_method, redirect_uri, redirect_uri_sent, created_at, code_hash, code_expires_at, \
                 amr, acr, resource, claims) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                &[
                    (&g.id).into(),
                    (&g.tenant_id).into(),
                    (&g.client_id).into(),
                    (&g.user_sub).into(),
                    (&g.scope).into(),
                    g.auth_time.into(),
                    (&g.nonce).into(),
                    (&g.code_challenge).into(),
                    g.code_challenge_method.map(|m| m.as_str()).into(),
                    (&g.redirect_uri).into(),
                    g.redirect_uri_sent.into(),
                    g.created_at.into(),
                    code_hash.into(),
                    g.code_expires_at.into(),
                    (&amr).into(),
                    (&g.acr).into(),
                    (&g.resource).into(),
                    (&claims).into(),
                ],
            )
            .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }

    async fn deny_device(&self, device_hash: &str, user_sub: &str, now: i64) -> Result<bool> {
        let write = Write::new()
            .then(
                "UPDATE device_codes SET status = 'denied', user_sub = $2, answered_at = $3 \
                 WHERE hash = $1 AND status = 'pending' AND expires_at > $3 RETURNING hash",
                &[device_hash.into(), user_sub.into(), now.into()],
            )
            .returning()
            .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }
}
