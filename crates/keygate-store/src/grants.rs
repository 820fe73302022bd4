//! Grants and the tokens that descend from them: authorization codes,
//! refresh tokens and revoked access tokens, where single use is decided.

use crate::Result;
use async_trait::async_trait;
use keygate_core::model::{Grant, RefreshToken, User};

/// A refresh token to be written along with a code redemption or rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefresh {
    /// The hash of the token's value, which it is found by (the value is not stored).
    pub hash: String,
    /// The token's record.
    pub token: RefreshToken,
}

/// What the caller's check of an exchange allowed: the scope of the tokens
/// to issue, and the refresh token to store with the consume, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    /// The scope of the tokens to issue.
    pub scope: keygate_core::scope::Scope,
    /// The refresh token to store with the consume, if any.
    pub successor: Option<NewRefresh>,
    /// The DPoP key the grant becomes bound to with the consume, if any
    /// (RFC 9449 5).
    pub bind_dpop: Option<keygate_core::grant::DpopBinding>,
}

/// The check of an exchange: given what the code or refresh token was
/// found with, approve it or refuse it. It runs before anything is written;
/// a refusal writes nothing. (On SQLite it runs on the writer thread, within
/// the transaction that consumes, so it must be quick and pure.)
pub type Check<T> =
    Box<dyn FnOnce(&T) -> std::result::Result<Approved, keygate_core::grant::Refusal> + Send>;

/// Where an exchange's outcome goes, errors included. It is called once, on
/// the thread that finished the exchange: on SQLite the writer thread, just
/// after the commit, so it must be quick and must never block (it answers
/// its caller, or hands the outcome to another thread: the token endpoint
/// hands a won exchange straight to a signing thread, so the request's task
/// wakes once, when its tokens are signed, instead of once for the commit
/// and once for the signatures). Dropped uncalled only if the process is
/// going down.
pub type Then<T> = Box<dyn FnOnce(Result<Exchange<T>>) + Send>;

/// How an exchange of a code or refresh token ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange<T> {
    /// No such code or refresh token.
    NotFound,
    /// The check refused it; nothing was written.
    Refused(keygate_core::grant::Refusal),
    /// The check approved it, but another request consumed it first (or it
    /// expired or its grant was revoked meanwhile); nothing was written.
    Lost(T),
    /// Consumed by this call, with the successor stored; committed.
    Won(T, Approved),
}

impl<T> Exchange<T> {
    /// The same outcome with what was found turned into `U`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Exchange<U> {
        match self {
            Exchange::NotFound => Exchange::NotFound,
            Exchange::Refused(r) => Exchange::Refused(r),
            Exchange::Lost(t) => Exchange::Lost(f(t)),
            Exchange::Won(t, a) => Exchange::Won(f(t), a),
        }
    }
}

/// A code's grant and its person (`None` if deleted).
pub type CodeGrant = (Grant, Option<User>);
/// A refresh token with its grant and person (`None` if deleted).
pub type RefreshGrant = (RefreshToken, Grant, Option<User>);

/// What [`GrantStore::token_standing`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The jti is on the revocation list.
    pub jti_revoked: bool,
    /// No grant was named, or the named grant exists and is not revoked.
    pub grant_live: bool,
    /// The person asked for, if they still exist.
    pub person: Option<User>,
}

impl Standing {
    /// Whether the token is still good (the person aside).
    pub fn stands(&self) -> bool {
        !self.jti_revoked && self.grant_live
    }
}

/// Grants with their authorization codes, refresh tokens, and revoked
/// access tokens (by jti, until they would have expired anyway).
///
/// Single use of codes and refresh tokens is decided by the database:
/// [`GrantStore::exchange_code`] and [`GrantStore::exchange_refresh`] read
/// the grant, let the caller's check decide, and consume with one
/// conditional `UPDATE ... WHERE consumed_at IS NULL`, so two racing
/// requests (even on two nodes) get exactly one winner.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Stores a grant and its code unless its person already holds
    /// `max_outstanding` live, unredeemed codes of the same client (counted
    /// and inserted in one statement, on PostgreSQL under a lock per person
    /// and client, so parallel requests cannot pass the cap together);
    /// whether it was stored.
    async fn create_grant(
        &self,
        grant: &Grant,
        code_hash: &str,
        max_outstanding: i64,
    ) -> Result<bool>;
    /// The grant with this id, revoked or not.
    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>>;
    /// Exchanges a code: finds its grant, asks `check`, and if approved
    /// consumes the code (if still unused, unexpired and its grant not
    /// revoked) and stores the approved successor refresh token; both are
    /// committed when `then` is given `Won`.
    async fn exchange_code(
        &self,
        code_hash: &str,
        now: i64,
        check: Check<CodeGrant>,
        then: Then<CodeGrant>,
    );
    /// Revokes a grant and so every token descending from it.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<()>;

    /// A refresh token with its grant and person (`None` if deleted), in one read.
    async fn refresh_token(
        &self,
        hash: &str,
    ) -> Result<Option<(RefreshToken, Grant, Option<User>)>>;
    /// Exchanges a refresh token like [`GrantStore::exchange_code`]: consumed
    /// (if unused, unexpired and its grant not revoked) and its approved
    /// successor stored, committed when `then` is given `Won`.
    async fn exchange_refresh(
        &self,
        hash: &str,
        now: i64,
        check: Check<RefreshGrant>,
        then: Then<RefreshGrant>,
    );

    /// Puts an access token's jti on the revocation list until `expires_at`.
    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()>;
    /// Whether an access token still stands, in one read: its jti not
    /// revoked, its grant (if it names one) still live, and, when `person`
    /// (tenant, sub) is given, that person as stored now. One statement
    /// rather than three, because userinfo and introspection ask this on
    /// every call and on PostgreSQL each statement is a round trip and a
    /// share of the database server's CPU.
    async fn token_standing(
        &self,
        jti: &str,
        grant_id: Option<&str>,
        person: Option<(&str, &str)>,
    ) -> Result<Standing>;
}
