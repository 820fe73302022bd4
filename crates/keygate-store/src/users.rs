//! The people of a tenant: who can sign in, and what ends when they change.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::User;

/// Users and their administration. Lists page by key as in
/// [`crate::TenantStore`].
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// `Conflict` when the e-mail is taken in the tenant.
    async fn create_user(&self, user: &User) -> Result<()>;
    /// The user with this subject in the tenant.
    async fn get_user(&self, tenant_id: &str, sub: &str) -> Result<Option<User>>;
    /// The user with this e-mail address in the tenant (sign-in).
    async fn user_by_email(&self, tenant_id: &str, email: &str) -> Result<Option<User>>;

    /// A page of the tenant's users (the admin API).
    async fn list_users(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<User>>;
    /// The tenant's users whose e-mail address (as stored, lower-cased)
    /// starts with `prefix`, in address order, after the address `after`,
    /// at most `limit` (the console's search).
    async fn users_by_email_prefix(
        &self,
        tenant_id: &str,
        prefix: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<User>>;
    /// Replaces e-mail, verification, name and password hash of a user;
    /// `NotFound` if missing, `Conflict` if the e-mail is taken.
    /// With `end_sessions_at`, also ends the person's sessions and revokes
    /// their grants in the same transaction (a new password or e-mail
    /// address, or disabling).
    async fn update_user(&self, user: &User, end_sessions_at: Option<i64>) -> Result<()>;
    /// Deletes a user, ends their sessions and revokes their grants (so
    /// their tokens stop working). Whether they existed.
    async fn delete_user(&self, tenant_id: &str, sub: &str, now: i64) -> Result<bool>;
}
