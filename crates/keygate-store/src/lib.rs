//! Persistence of Keygate: one [`Store`] trait, implemented by [`SqlStore`]
//! on SQLite (embedded, one file) and PostgreSQL (many nodes).
//!
//! The trait speaks in the core's records. Single use of codes and refresh
//! tokens is decided by the database: [`Store::redeem_code`] and
//! [`Store::rotate_refresh`] consume with one conditional `UPDATE ... WHERE
//! consumed_at IS NULL`, so two racing requests (even on two nodes) get
//! exactly one winner. The SQL is written once (`$1` placeholders work on
//! both engines through sqlx's `Any` driver); what differs per engine
//! (connection set-up, migrations, pragmas, locking) lives in [`sqlite`] and
//! [`postgres`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), keygate_store::StoreError> {
//! let store = keygate_store::connect("sqlite://keygate-data/keygate.db", &Default::default()).await?;
//! let tenant = store.get_tenant("default").await?;
//! # Ok(()) }
//! ```

mod migrate;
pub mod postgres;
mod sql;
pub mod sqlite;

use async_trait::async_trait;
use keygate_core::model::{Client, Grant, RefreshToken, Session, Tenant, User};
use std::sync::Arc;

pub use sql::SqlStore;

#[derive(Debug, thiserror::Error)]
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

/// The outcome of a conditional consume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// This request consumed it; the new state is committed.
    Won,
    /// Someone else consumed it first (or it expired meanwhile); nothing was
    /// written.
    Lost,
}

/// Connection settings (pool size and timeouts).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout_secs: 10,
        }
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
pub trait Store: Send + Sync + 'static {
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

    // Sessions of the hosted pages (looked up by the hash of the cookie)
    async fn create_session(&self, id_hash: &str, session: &Session) -> Result<()>;
    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;

    // Grants and their authorization codes
    async fn create_grant(&self, grant: &Grant, code_hash: &str) -> Result<()>;
    async fn grant_by_code(&self, code_hash: &str) -> Result<Option<Grant>>;
    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>>;
    /// Consumes the code if unused and unexpired and, in the same
    /// transaction, stores the refresh token (if any).
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        refresh: Option<&NewRefresh>,
    ) -> Result<Consumed>;
    /// Revokes a grant and so every token descending from it.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<()>;

    // Refresh tokens
    async fn refresh_token(&self, hash: &str) -> Result<Option<(RefreshToken, Grant)>>;
    /// Consumes the refresh token if unused and, in the same transaction,
    /// stores its successor (if any).
    async fn rotate_refresh(
        &self,
        hash: &str,
        now: i64,
        next: Option<&NewRefresh>,
    ) -> Result<Consumed>;

    // Revoked access tokens (by jti) until they would have expired anyway
    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()>;
    async fn is_jti_revoked(&self, jti: &str) -> Result<bool>;

    // Brute-force limits, shared by every node through the store.
    /// Seconds until `key` may try again, if it is blocked now.
    async fn blocked_for(&self, key: &str, now: i64) -> Result<Option<i64>>;
    /// Counts a failure of `key` and blocks it when the policy says so;
    /// returns the seconds it is now blocked for, if any.
    async fn record_failure(&self, key: &str, now: i64, policy: &LimitPolicy) -> Result<Option<i64>>;
    /// Forgets the failures of `key` (after a success).
    async fn clear_failures(&self, key: &str) -> Result<()>;
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
        Some(self.base_block.saturating_mul(1i64 << doublings).min(self.max_block))
    }
}
