//! The back-channel logout queue (OpenID Connect Back-Channel Logout 1.0):
//! one row per client to tell and session that ended.
//!
//! Rows are never queued by a call of their own: every write that ends a
//! session (signing out, "sign out everywhere", a password reset or change,
//! disabling or deleting a person, an admin's reset of their factors, a
//! change of e-mail address) queues, in its own transaction, a row for each
//! client that got tokens from that session (its code was redeemed) and
//! has a back-channel logout URI. A crash therefore never ends a session
//! without its logouts, nor queues logouts for a session that goes on.
//!
//! Delivery works as the mail outbox does ([`crate::OutboxStore`]): a
//! sender claims a batch of due rows under a random claim and a lease (on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`, so two nodes claim disjoint
//! batches), then marks each one finished (delivered, or given up) or due
//! again later. Finished rows are deleted by the sweeper
//! ([`crate::MaintenanceStore::sweep`]) a day later.

use crate::Result;
use async_trait::async_trait;

/// A claimed logout: tell `client_id` that session `sid` of `user_sub` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The client to tell (its back-channel URI is read when delivering).
    pub client_id: String,
    /// The session that ended.
    pub sid: String,
    /// The tenant of the client and the session.
    pub tenant_id: String,
    /// The person whose session it was.
    pub user_sub: String,
    /// The issuer the session's grant was made at: the logout token's `iss`.
    pub issuer: String,
    /// When the session ended (seconds since the epoch).
    pub created_at: i64,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How a logout's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The client answered 2xx.
    Delivered,
    /// Not delivered, and no longer tried (too old, or the client no
    /// longer exists or has no back-channel URI).
    GivenUp,
}

impl LogoutOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LogoutOutcome::Delivered => "delivered",
            LogoutOutcome::GivenUp => "given_up",
        }
    }
}

/// The queue of logout tokens to deliver, shared by every node.
#[async_trait]
pub trait LogoutStore: Send + Sync {
    /// Claims up to `limit` due logouts (unfinished, their next attempt due,
    /// no live lease) for `lease` seconds under the caller's random
    /// `claim`, counting an attempt of each, and returns them.
    async fn claim_logouts(
        &self,
        claim: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Logout>>;
    /// The logout's delivery ended (`now`), as `outcome`.
    async fn logout_finished(
        &self,
        client_id: &str,
        sid: &str,
        outcome: LogoutOutcome,
        now: i64,
    ) -> Result<()>;
    /// The attempt failed: the logout is due again at `next_attempt_at`.
    async fn logout_failed(&self, client_id: &str, sid: &str, next_attempt_at: i64) -> Result<()>;
    /// The logouts queued for session `sid`, whatever their state, as
    /// `(client_id, outcome)` (`None`: not finished); for tests and
    /// operators.
    async fn logouts_of_session(&self, sid: &str) -> Result<Vec<(String, Option<String>)>>;
}
