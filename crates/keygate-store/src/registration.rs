//! What dynamic client registration (RFC 7591) keeps besides the client:
//! the initial access tokens of a tenant's registration endpoint (their
//! SHA-256, until they expire), and when a registered client was first
//! used (registered clients never used are swept after 30 days).

use crate::Result;
use async_trait::async_trait;

/// Initial access tokens and first use of registered clients.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Stores an initial access token of `tenant_id` by its SHA-256.
    async fn create_registration_token(
        &self,
        hash: &str,
        tenant_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// Whether an unexpired initial access token of `tenant_id` has this hash.
    async fn registration_token_valid(&self, hash: &str, tenant_id: &str, now: i64)
        -> Result<bool>;
    /// Records the first use of a registered client (once).
    async fn mark_client_used(&self, tenant_id: &str, client_id: &str, now: i64) -> Result<()>;
}
