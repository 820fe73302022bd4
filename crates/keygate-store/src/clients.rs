//! Clients (relying parties) of a tenant: what each may ask for.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::Client;

/// Clients and their administration. Lists page by key as in
/// [`crate::TenantStore`].
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// Stores a new client with its web origins.
    async fn create_client(&self, client: &Client) -> Result<()>;
    /// The client with this id in the tenant.
    async fn get_client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>>;
    /// The oldest client of the tenant with this name.
    async fn client_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Client>>;
    /// Whether some client of the tenant registered this web origin (CORS).
    async fn is_web_origin(&self, tenant_id: &str, origin: &str) -> Result<bool>;

    /// A page of the tenant's clients (the admin API).
    async fn list_clients(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<Client>>;
    /// Replaces the settings of a client: everything but its id, tenant,
    /// kind (public or not), secret and creation time. `NotFound` if missing.
    async fn update_client(&self, client: &Client) -> Result<()>;
    /// Replaces the secret hash of a confidential client; `NotFound` if there
    /// is no such confidential client.
    async fn set_client_secret(
        &self,
        tenant_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<()>;
    /// Deletes a client and revokes every grant it holds, so its refresh
    /// tokens and access tokens stop working. Whether it existed.
    async fn delete_client(&self, tenant_id: &str, client_id: &str, now: i64) -> Result<bool>;
}
