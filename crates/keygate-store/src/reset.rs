//! Password-reset links: stored only as the SHA-256 of their token, good
//! once and until they expire.
//!
//! Using a link is one atomic write: the statement that marks the link used
//! (`UPDATE ... WHERE used_at IS NULL AND expires_at > now RETURNING`)
//! decides the one winner among racing submissions, and in the same
//! transaction the person's password is replaced, their sessions end, their
//! grants (and so their refresh and access tokens) are revoked, and their
//! other live links are used up.

use crate::Result;
use async_trait::async_trait;

/// A password-reset link as stored (its hash aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetLink {
    /// The tenant of the person.
    pub tenant_id: String,
    /// The person whose password the link may set.
    pub user_sub: String,
    /// When it was made (seconds since the epoch).
    pub created_at: i64,
    /// When it stops working (30 minutes after it was made by default).
    pub expires_at: i64,
    /// When it was used, or its person's password was set another way.
    pub used_at: Option<i64>,
}

/// Password-reset links, good once and until they expire.
#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Stores a new link under the SHA-256 (hex) of its token.
    async fn create_reset_link(&self, hash: &str, link: &ResetLink) -> Result<()>;
    /// The link stored under this hash, used or not, expired or not.
    async fn reset_link(&self, hash: &str) -> Result<Option<ResetLink>>;
    /// Uses the link (if it is still unused, unexpired and names this
    /// person, and the person is not disabled) and, in the same
    /// transaction, sets the person's password hash, ends their sessions,
    /// revokes their grants and uses up their other links. Whether this
    /// call won.
    async fn use_reset_link(
        &self,
        hash: &str,
        tenant_id: &str,
        user_sub: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool>;
}
