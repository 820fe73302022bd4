//! What people allowed third-party clients (consents), per person, client
//! and API. Revoking a client's consents also revokes the person's grants
//! of that client in the same write, so the refresh tokens they allowed
//! stop working.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::Consent;

/// People's consents.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Stores (or replaces) what a person allowed a client for one API.
    async fn save_consent(&self, consent: &Consent) -> Result<()>;
    /// What the person allowed the client for `resource` ('' for the
    /// client's own tokens).
    async fn consent(
        &self,
        tenant_id: &str,
        user_sub: &str,
        client_id: &str,
        resource: &str,
    ) -> Result<Option<Consent>>;
    /// Everything the person allowed, by client and API.
    async fn consents_of(&self, tenant_id: &str, user_sub: &str) -> Result<Vec<Consent>>;
    /// Removes what the person allowed the client and revokes their grants
    /// of it at `now`; whether there was a consent.
    async fn revoke_consent(
        &self,
        tenant_id: &str,
        user_sub: &str,
        client_id: &str,
        now: i64,
    ) -> Result<bool>;
}
