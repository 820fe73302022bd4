//! APIs (resource servers) of tenants and the scopes of them granted to
//! clients for themselves (client grants).
//!
//! An API is keyed by its tenant and identifier. Deleting it deletes its
//! client grants in the same write; deleting a client deletes its grants.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::{Api, ClientGrant};

/// APIs and client grants.
#[async_trait]
pub trait ApiStore: Send + Sync {
    /// Stores a new API; `Conflict` if its identifier is taken in the tenant.
    async fn create_api(&self, api: &Api) -> Result<()>;
    /// The tenant's API with this identifier.
    async fn get_api(&self, tenant_id: &str, identifier: &str) -> Result<Option<Api>>;
    /// The tenant's APIs, by identifier.
    async fn list_apis(&self, tenant_id: &str) -> Result<Vec<Api>>;
    /// Replaces an API's name, scopes, lifetime and algorithm; whether it
    /// was there. Client grants of scopes it no longer defines lose them.
    async fn update_api(&self, api: &Api) -> Result<bool>;
    /// Deletes an API and its client grants; whether it was there.
    async fn delete_api(&self, tenant_id: &str, identifier: &str) -> Result<bool>;
    /// Sets (replaces) the scopes of `grant.api` granted to `grant.client_id`.
    async fn set_client_grant(&self, grant: &ClientGrant) -> Result<()>;
    /// The client's grant for one API.
    async fn client_grant(
        &self,
        tenant_id: &str,
        client_id: &str,
        api: &str,
    ) -> Result<Option<ClientGrant>>;
    /// Every grant of the client, by API.
    async fn client_grants(&self, tenant_id: &str, client_id: &str) -> Result<Vec<ClientGrant>>;
    /// Removes the client's grant for one API; whether it was there.
    async fn delete_client_grant(
        &self,
        tenant_id: &str,
        client_id: &str,
        api: &str,
    ) -> Result<bool>;
}
