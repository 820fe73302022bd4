//! Tokens of the admin API: only their SHA-256 is stored.

use crate::Result;
use async_trait::async_trait;

/// A token of the admin API as listed (its hash is never read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// The token's id (not its secret): how it is listed and deleted.
    pub id: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
}

/// Tokens of the admin API, kept as their SHA-256 only.
#[async_trait]
pub trait AdminTokenStore: Send + Sync + 'static {
    /// Stores a new token by the hash of its secret.
    async fn create_admin_token(&self, token: &AdminToken, hash: &str) -> Result<()>;
    /// Whether a token with this hash exists (the admin API's check).
    async fn admin_token_exists(&self, hash: &str) -> Result<bool>;
    /// The id of the token with this hash, if there is one (who acted, for
    /// the audit events).
    async fn admin_token_id(&self, hash: &str) -> Result<Option<String>>;
    /// Every token, oldest first.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>>;
    /// Whether a token with this id existed.
    async fn delete_admin_token(&self, id: &str) -> Result<bool>;
}
