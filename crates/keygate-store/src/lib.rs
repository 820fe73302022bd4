//! Persistence of Keygate: one [`Store`] trait, implemented by [`SqlStore`]
//! on SQLite (embedded, one file) and PostgreSQL (many nodes).
//!
//! The trait speaks in the core's records. Single use of codes and refresh
//! tokens is decided by the database: [`Store::exchange_code`] and
//! [`Store::exchange_refresh`] read the grant, let the caller's check decide,
//! and consume with one conditional `UPDATE ... WHERE consumed_at IS NULL`,
//! so two racing requests (even on two nodes) get exactly one winner.
//!
//! The SQL is written once, with `$1` placeholders, and each engine runs it
//! its own way. PostgreSQL runs everything on sqlx's pool. SQLite reads on
//! the calling thread through rusqlite (`inline`) and writes on one writer
//! thread that commits the writes waiting at that moment together
//! (`writer`), where a code or refresh token exchange also reads
//! (`exchange`); a write is described as data (`write`) so that both engines
//! run the same statements. What else differs per engine (connection
//! set-up, migrations, pragmas, checkpoints) lives in [`sqlite`] and
//! [`postgres`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), keygate_store::StoreError> {
//! let store = keygate_store::connect("sqlite://keygate-data/keygate.db", &Default::default()).await?;
//! let tenant = store.get_tenant("default").await?;
//! # Ok(()) }
//! ```

mod exchange;
mod lease;
mod metered;
mod migrate;
pub mod outbox;
pub mod postgres;
mod reset;
mod row;
mod sql;
pub mod sqlite;
mod write;

use async_trait::async_trait;
use keygate_core::model::{Client, Grant, RefreshToken, Session, Tenant, User};
use std::sync::Arc;

pub use metered::Metered;
pub use outbox::{Mail, NewMail, OutboxStore};
pub use reset::{ResetLink, ResetStore};
pub use sql::SqlStore;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a taken e-mail, id or domain): the
    /// caller's input is at fault, not the server.
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
        }
        StoreError::Backend(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A signing key as stored: private key sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub tenant_id: String,
    pub alg: String,
    /// Position of this key among the tenant's keys of `alg` (1, 2, ...):
    /// unique, so two nodes creating a first key at once agree on one.
    pub seq: i64,
    pub sealed_private: String,
    pub public_jwk: String,
    pub created_at: i64,
    /// When the key starts signing (published in JWKS before that).
    pub activates_at: i64,
    /// When the key leaves the JWKS; `None` while in use.
    pub retires_at: Option<i64>,
}

/// A refresh token to be written along with a code redemption or rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefresh {
    pub hash: String,
    pub token: RefreshToken,
}

/// What the caller's check of an exchange allowed: the scope of the tokens
/// to issue, and the refresh token to store with the consume, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub scope: keygate_core::scope::Scope,
    pub successor: Option<NewRefresh>,
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

/// Connection settings (pool size and timeouts) and SQLite's [`Linger`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// `None`: SQLite's writer commits what waits as soon as it can.
    pub linger: Option<Linger>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout_secs: 10,
            linger: None,
        }
    }
}

/// When SQLite's writer waits a moment for more writes before it begins a
/// transaction, so that they commit together (see `sqlite/writer.rs`).
///
/// Waiting costs a request its wait unless the request would wait that
/// long further on anyway; only the caller knows when that is (the server:
/// while its signing queue is deep), so the caller says through `when`.
#[derive(Clone)]
pub struct Linger {
    /// How long the writer waits.
    pub wait: std::time::Duration,
    /// Asked before each transaction: whether to wait first. It must be
    /// cheap and must not block.
    pub when: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Linger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linger").field("wait", &self.wait).finish()
    }
}

/// Opens the store named by a URL (`sqlite://...` or `postgres://...`),
/// creating the database file and folder if needed and applying migrations.
pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::open(url, opts).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::open(url, opts).await?))
    } else {
        Err(StoreError::Backend(format!(
            "unsupported database URL '{url}': use sqlite://PATH or postgres://..."
        )))
    }
}

/// Everything Keygate keeps. Implementations must make each method atomic.
#[async_trait]
pub trait Store: OutboxStore + ResetStore + Send + Sync + 'static {
    /// Store reachable and migrated (for readiness probes).
    async fn ping(&self) -> Result<()>;

    // Tenants
    /// Creates a tenant and its domains; `Conflict` if the id or a domain is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// Creates the tenant unless it exists (the `default` tenant).
    async fn ensure_tenant(&self, tenant: &Tenant) -> Result<()>;
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>>;
    /// The tenant whose domain has this Host authority (`host[:port]`),
    /// with the domain's origin.
    async fn tenant_by_authority(&self, authority: &str) -> Result<Option<(Tenant, String)>>;

    // Clients
    async fn create_client(&self, client: &Client) -> Result<()>;
    async fn get_client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>>;
    async fn client_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Client>>;
    /// Whether some client of the tenant registered this web origin (CORS).
    async fn is_web_origin(&self, tenant_id: &str, origin: &str) -> Result<bool>;

    // Users
    /// `Conflict` when the e-mail is taken in the tenant.
    async fn create_user(&self, user: &User) -> Result<()>;
    async fn get_user(&self, tenant_id: &str, sub: &str) -> Result<Option<User>>;
    async fn user_by_email(&self, tenant_id: &str, email: &str) -> Result<Option<User>>;

    // Signing keys
    async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<StoredKey>>;
    /// Inserts unless a key with the same (tenant, alg, seq) exists; returns
    /// whether this one was inserted.
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<bool>;
    /// Sets when a key leaves the JWKS (key rotation).
    async fn set_key_retirement(&self, kid: &str, retires_at: i64) -> Result<()>;
    /// The longest access or id token lifetime among the tenant's clients
    /// (how long a retiring key must stay published).
    async fn max_token_ttl(&self, tenant_id: &str) -> Result<i64>;

    /// Deletes up to `batch` expired rows of each kind; returns what was
    /// deleted per table. Safe to run on several nodes at once.
    async fn sweep(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>>;

    // Sessions of the hosted pages (looked up by the hash of the cookie)
    async fn create_session(&self, id_hash: &str, session: &Session) -> Result<()>;
    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;

    // Grants and their authorization codes
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

    // Refresh tokens
    /// A refresh token with its grant and person (`None` if deleted), in one read.
    async fn refresh_token(
        &self,
        hash: &str,
    ) -> Result<Option<(RefreshToken, Grant, Option<User>)>>;
    /// Exchanges a refresh token like [`Store::exchange_code`]: consumed
    /// (if unused, unexpired and its grant not revoked) and its approved
    /// successor stored, committed when `then` is given `Won`.
    async fn exchange_refresh(
        &self,
        hash: &str,
        now: i64,
        check: Check<RefreshGrant>,
        then: Then<RefreshGrant>,
    );

    // Revoked access tokens (by jti) until they would have expired anyway
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

    // Brute-force limits, shared by every node through the store.
    /// Reserves one attempt of `key` before its secret is checked, in one
    /// statement that counts it and refuses it while `key` is blocked, so
    /// that parallel attempts cannot all slip in before the first failure
    /// is written. The attempt that reaches the policy's limit blocks `key`
    /// provisionally (for `base_block`) until its outcome is known.
    async fn reserve_attempt(&self, key: &str, now: i64, policy: &LimitPolicy) -> Result<Attempt>;
    /// Settles a granted attempt that failed: blocks `key` for as long as
    /// the policy says for `count` failures (never shortening a block).
    async fn attempt_failed(
        &self,
        key: &str,
        count: i64,
        now: i64,
        policy: &LimitPolicy,
    ) -> Result<()>;
    /// Takes back a granted attempt that was not a failure (it succeeded,
    /// or another limit refused it), lifting the provisional block it set.
    async fn release_attempt(&self, key: &str, policy: &LimitPolicy) -> Result<()>;
    /// Counts a failure of `key` and blocks it when the policy says so;
    /// returns the seconds it is now blocked for, if any.
    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &LimitPolicy,
    ) -> Result<Option<i64>>;
    /// Forgets the failures of `key` (after a success).
    async fn clear_failures(&self, key: &str) -> Result<()>;

    // Administration (the admin API and the provisioning commands). Lists
    // page by key: up to `limit` records whose id sorts after `after` ("" for
    // the first page), in id order.
    async fn list_tenants(&self, after: &str, limit: i64) -> Result<Vec<Tenant>>;
    /// Replaces the display name and the domains of a tenant; `NotFound` if
    /// it does not exist, `Conflict` if a domain belongs to another tenant.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// Deletes a tenant and everything in it: domains, clients, users, keys,
    /// sessions, grants and refresh tokens. Whether it existed.
    async fn delete_tenant(&self, id: &str) -> Result<bool>;
    async fn list_clients(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<Client>>;
    /// Replaces the settings of a client: everything but its id, tenant,
    /// kind (public or not), secret and creation time. `NotFound` if missing.
    async fn update_client(&self, client: &Client) -> Result<()>;
    /// Replaces the secret hash of a confidential client; `NotFound` if there
    /// is no such confidential client.
    async fn set_client_secret(
        &self,
        tenant_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<()>;
    /// Deletes a client and revokes every grant it holds, so its refresh
    /// tokens and access tokens stop working. Whether it existed.
    async fn delete_client(&self, tenant_id: &str, client_id: &str, now: i64) -> Result<bool>;
    async fn list_users(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<User>>;
    /// Replaces e-mail, verification, name and password hash of a user;
    /// `NotFound` if missing, `Conflict` if the e-mail is taken.
    /// With `end_sessions_at`, also ends the person's sessions and revokes
    /// their grants in the same transaction (a new password or e-mail
    /// address, or disabling).
    async fn update_user(&self, user: &User, end_sessions_at: Option<i64>) -> Result<()>;
    /// Deletes a user, ends their sessions and revokes their grants (so
    /// their tokens stop working). Whether they existed.
    async fn delete_user(&self, tenant_id: &str, sub: &str, now: i64) -> Result<bool>;

    // Tokens of the admin API: only their SHA-256 is stored.
    async fn create_admin_token(&self, token: &AdminToken, hash: &str) -> Result<()>;
    async fn admin_token_exists(&self, hash: &str) -> Result<bool>;
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>>;
    /// Whether a token with this id existed.
    async fn delete_admin_token(&self, id: &str) -> Result<bool>;
}

/// What [`Store::token_standing`] found.
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

/// A token of the admin API as listed (its hash is never read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub id: String,
    pub created_at: i64,
}

/// What [`Store::reserve_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead; this is the `count`th attempt of the current window.
    Granted { count: i64 },
    /// Blocked: try again in this many seconds (at least 1).
    Refused { retry_after: i64 },
}

/// After `max_failures` failures within `window` seconds, a key is blocked
/// for `base_block` seconds, doubling with each further failure up to
/// `max_block` (a growing delay rather than a hard lock-out an attacker
/// could use to lock people out for long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitPolicy {
    pub max_failures: i64,
    pub window: i64,
    pub base_block: i64,
    pub max_block: i64,
}

impl LimitPolicy {
    /// How long `failures` failures block for.
    pub fn block_for(&self, failures: i64) -> Option<i64> {
        if failures < self.max_failures {
            return None;
        }
        let doublings = (failures - self.max_failures).min(20) as u32;
        Some(
            self.base_block
                .saturating_mul(1i64 << doublings)
                .min(self.max_block),
        )
    }
}
