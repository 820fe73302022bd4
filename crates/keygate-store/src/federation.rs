//! Upstream identity providers (docs/federation.md): a tenant's
//! upstreams, the upstream identities linked to its users, and the
//! short-lived records of round trips in progress.
//!
//! An identity (`iss`, `sub`) is linked to at most one user: the pair is
//! the table's key, so two racing first sign-ins cannot create two users
//! for it ([`FederationStore::create_federated_user`] writes the user and
//! the link in one transaction, and the loser gets a conflict).

use crate::Result;
use async_trait::async_trait;
use keygate_core::federation::{FederatedIdentity, FederationState, UpstreamIdp};
use keygate_core::model::User;

/// Upstreams, linked identities and round trips.
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// Adds an upstream; `Conflict` when the tenant has one by that name.
    async fn create_idp(&self, idp: &UpstreamIdp) -> Result<()>;
    /// The tenant's upstream with this id.
    async fn get_idp(&self, tenant_id: &str, id: &str) -> Result<Option<UpstreamIdp>>;
    /// The tenant's upstreams, by name.
    async fn list_idps(&self, tenant_id: &str) -> Result<Vec<UpstreamIdp>>;
    /// Replaces an upstream's settings (matched by tenant and id; the
    /// creation time is kept): whether it exists. `Conflict` when the new
    /// name is another upstream's.
    async fn update_idp(&self, idp: &UpstreamIdp) -> Result<bool>;
    /// Deletes an upstream and its round trips in progress; the identities
    /// it linked stay with their users. Whether it existed.
    async fn delete_idp(&self, tenant_id: &str, id: &str) -> Result<bool>;

    /// The identity (`issuer`, `subject`) in this tenant, if linked.
    async fn federated_identity(
        &self,
        tenant_id: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<FederatedIdentity>>;
    /// The identities linked to a user, oldest first.
    async fn identities_of(
        &self,
        tenant_id: &str,
        user_sub: &str,
    ) -> Result<Vec<FederatedIdentity>>;
    /// Links an identity to its user: false when the identity is already
    /// linked (to anyone) or the user does not exist.
    async fn link_identity(&self, identity: &FederatedIdentity) -> Result<bool>;
    /// Creates a user and links the identity to it, both or neither:
    /// `Conflict` when the e-mail has an account or the identity is linked.
    async fn create_federated_user(&self, user: &User, identity: &FederatedIdentity) -> Result<()>;
    /// Records a sign-in with the identity.
    async fn touch_identity(
        &self,
        tenant_id: &str,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> Result<()>;
    /// Removes the user's identity: whether it was theirs.
    async fn unlink_identity(
        &self,
        tenant_id: &str,
        user_sub: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<bool>;

    /// Stores a round trip under the SHA-256 (hex) of its random value.
    async fn put_federation_state(&self, hash: &str, state: &FederationState) -> Result<()>;
    /// The live (unexpired) record stored under `hash`, left in place.
    async fn federation_state(&self, hash: &str, now: i64) -> Result<Option<FederationState>>;
    /// Takes the live record stored under `hash` (once: a second call, or
    /// a racing one, gets `None`).
    async fn take_federation_state(&self, hash: &str, now: i64) -> Result<Option<FederationState>>;
}
