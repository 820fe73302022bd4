//! Tenants and their domains: which issuer a request's Host belongs to.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::Tenant;

/// Tenants, their domains, and their administration. Lists page by key: up
/// to `limit` records whose id sorts after `after` ("" for the first page),
/// in id order.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Creates a tenant and its domains; `Conflict` if the id or a domain is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// Creates the tenant unless it exists (the `default` tenant).
    async fn ensure_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// The tenant with this id, with its domains.
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>>;
    /// The tenant whose domain has this Host authority (`host[:port]`),
    /// with the domain's origin.
    async fn tenant_by_authority(&self, authority: &str) -> Result<Option<(Tenant, String)>>;

    /// A page of tenants (the admin API and the provisioning commands).
    async fn list_tenants(&self, after: &str, limit: i64) -> Result<Vec<Tenant>>;
    /// Replaces the display name, the settings (token rate limit,
    /// registration, verify_email, mfa) and the domains of a tenant; `NotFound` if
    /// it does not exist, `Conflict` if a domain belongs to another tenant.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// Deletes a tenant and everything in it: domains, clients, users, keys,
    /// sessions, grants and refresh tokens. Whether it existed.
    async fn delete_tenant(&self, id: &str) -> Result<bool>;
}
