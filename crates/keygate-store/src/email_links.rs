//! E-mail links: a link sent to an address that, once used, verifies the
//! person's address (`verify`) or moves them to a new one (`change`).
//! Stored only as the SHA-256 of their token, good once and until they
//! expire.
//!
//! Using a link is one atomic write: the statement that marks the link used
//! (`UPDATE ... WHERE used_at IS NULL AND expires_at > now`) decides the one
//! winner among racing submissions, and in the same transaction the
//! person's record changes as the link's purpose says (see
//! [`EmailLinkStore::use_email_link`]).

use crate::Result;
use async_trait::async_trait;

/// What an e-mail link does when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailLinkPurpose {
    /// Marks the person's address verified, if it is still the link's.
    Verify,
    /// Makes the link's address the person's (verified), ending their
    /// sessions and revoking their grants.
    Change,
}

impl EmailLinkPurpose {
    /// The name stored in the `purpose` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailLinkPurpose::Verify => "verify",
            EmailLinkPurpose::Change => "change",
        }
    }

    /// The purpose stored under this name, if any.
    pub fn parse(s: &str) -> Option<EmailLinkPurpose> {
        match s {
            "verify" => Some(EmailLinkPurpose::Verify),
            "change" => Some(EmailLinkPurpose::Change),
            _ => None,
        }
    }
}

/// An e-mail link as stored (its hash aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLink {
    /// The tenant of the person.
    pub tenant_id: String,
    /// The person the link is for.
    pub user_sub: String,
    /// The address the link was sent to, and that it verifies.
    pub email: String,
    /// What using the link does.
    pub purpose: EmailLinkPurpose,
    /// When it was made (seconds since the epoch).
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was used.
    pub used_at: Option<i64>,
}

/// E-mail links (verification and change of address), good once and until
/// they expire.
#[async_trait]
pub trait EmailLinkStore: Send + Sync {
    /// Stores a new link under the SHA-256 (hex) of its token.
    async fn create_email_link(&self, hash: &str, link: &EmailLink) -> Result<()>;
    /// The link stored under this hash, used or not, expired or not.
    async fn email_link(&self, hash: &str) -> Result<Option<EmailLink>>;
    /// Uses the link, if it is still unused and unexpired, and in the same
    /// transaction:
    ///
    /// - `verify`: marks the person's address verified, only if it still is
    ///   the link's address;
    /// - `change`: sets the person's address to the link's, verified, ends
    ///   their sessions and revokes their grants; if another person took the
    ///   address meanwhile, nothing is written (the link stays unused) and
    ///   the answer is [`crate::StoreError::Conflict`].
    ///
    /// The link as it was before this call when this call won and the
    /// change was made; `None` when the link is unknown, used, expired, or
    /// its person is gone or (for `verify`) has another address now (the
    /// link then stays as it was).
    async fn use_email_link(&self, hash: &str, now: i64) -> Result<Option<EmailLink>>;
}
