//! Sessions of the hosted pages, so a person signs in once per browser.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::Session;

/// Sessions of the hosted pages, looked up by the hash of the cookie (the
/// cookie's value itself is never stored).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session under the hash of its cookie.
    async fn create_session(&self, id_hash: &str, session: &Session) -> Result<()>;
    /// The session with this cookie hash, expired or not.
    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>>;
    /// Deletes a session without telling anyone: only for a session that
    /// goes on under a new cookie (the same person signing in again in the
    /// same browser keeps its `sid`, so its clients stay signed in).
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Ends a session (sign-out), in one write: queues a back-channel
    /// logout for each client that got tokens from it
    /// ([`crate::LogoutStore`]), revokes the grants made from it that do
    /// not hold `offline_access`, and deletes it.
    async fn end_session(&self, id_hash: &str, now: i64) -> Result<()>;
    /// The person's live sessions (expiring after `now`) with their cookie
    /// hashes, newest first, at most 100: what the account page lists.
    async fn sessions_of(
        &self,
        tenant_id: &str,
        sub: &str,
        now: i64,
    ) -> Result<Vec<(String, Session)>>;
    /// "Sign out everywhere": ends every session of the person (queuing
    /// their back-channel logouts) and revokes their grants (so their
    /// refresh and access tokens) in one write.
    async fn end_sessions_of(&self, tenant_id: &str, sub: &str, now: i64) -> Result<()>;
}
