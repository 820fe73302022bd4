//! The statements of [`PushedRequestStore`]: a pushed request is opened by
//! one conditional `UPDATE` and used by another.

use super::SqlStore;
use crate::pushed::{PushedRequest, PushedRequestStore};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl PushedRequestStore for SqlStore {
    async fn create_pushed_request(&self, hash: &str, r: &PushedRequest) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO pushed_requests (hash, tenant_id, client_id, params, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                hash.into(),
                (&r.tenant_id).into(),
                (&r.client_id).into(),
                (&r.params).into(),
                r.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn open_pushed_request(
        &self,
        hash: &str,
        tenant_id: &str,
        client_id: &str,
        now: i64,
        open_until: i64,
    ) -> Result<Option<PushedRequest>> {
        // Opening is a write only the first time; afterwards (the hosted
        // forms name the request again at every step) it is a read.
        let found = self
            .first(
                "SELECT tenant_id, client_id, params, expires_at, opened_at FROM pushed_requests \
                 WHERE hash = $1 AND tenant_id = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $4",
                &[hash.into(), tenant_id.into(), client_id.into(), now.into()],
                |r| {
                    Ok((
                        PushedRequest {
                            tenant_id: r.text("tenant_id")?,
                            client_id: r.text("client_id")?,
                            params: r.text("params")?,
                            expires_at: r.int("expires_at")?,
                        },
                        r.opt_int("opened_at")?,
                    ))
                },
            )
            .await?;
        let Some((mut request, opened_at)) = found else {
            return Ok(None);
        };
        if opened_at.is_none() {
            let write = Write::new()
                .then(
                    "UPDATE pushed_requests SET opened_at = $2, expires_at = $3 \
                     WHERE hash = $1 AND opened_at IS NULL AND used_at IS NULL AND expires_at > $2 \
                     RETURNING hash",
                    &[hash.into(), now.into(), open_until.into()],
                )
                .returning()
                .exactly_one();
            // Losing the race means another request opened it just now:
            // it is open either way.
            if !self.write(write).await?.is_undone() {
                request.expires_at = open_until;
            }
        }
        Ok(Some(request))
    }

    async fn use_pushed_request(&self, hash: &str, now: i64) -> Result<bool> {
        let write = Write::new()
            .then(
                "UPDATE pushed_requests SET used_at = $2 \
                 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING hash",
                &[hash.into(), now.into()],
            )
            .returning()
            .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }
}
