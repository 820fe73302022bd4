//! The statement of [`ReplayStore`]: one upsert that only takes an
//! expired row.

use super::SqlStore;
use crate::replay::ReplayStore;
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl ReplayStore for SqlStore {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool> {
        let write = Write::new()
            .then(
                "INSERT INTO seen_values (key, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE seen_values.expires_at < $3 \
                 RETURNING key",
                &[key.into(), expires_at.into(), now.into()],
            )
            .returning()
            .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }
}
