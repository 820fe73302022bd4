//! Signing keys of each tenant, sealed, with their rotation dates.

use crate::Result;
use async_trait::async_trait;

/// A signing key as stored: private key sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key id (`kid`) tokens name it by.
    pub kid: String,
    /// The tenant that signs with it.
    pub tenant_id: String,
    /// The JWS algorithm (`RS256`, `ES256`, `EdDSA`).
    pub alg: String,
    /// Position of this key among the tenant's keys of `alg` (1, 2, ...):
    /// unique, so two nodes creating a first key at once agree on one.
    pub seq: i64,
    /// The private key, sealed under the master key.
    pub sealed_private: String,
    /// The public key as a JWK (JSON), as published.
    pub public_jwk: String,
    /// When the key was made (Unix seconds).
    pub created_at: i64,
    /// When the key starts signing (published in JWKS before that).
    pub activates_at: i64,
    /// When the key leaves the JWKS; `None` while in use.
    pub retires_at: Option<i64>,
}

/// The tenants' signing keys and what their rotation needs to know.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The tenant's keys, by algorithm and position.
    async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<StoredKey>>;
    /// Inserts unless a key with the same (tenant, alg, seq) exists; returns
    /// whether this one was inserted.
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<bool>;
    /// Sets when a key leaves the JWKS (key rotation).
    async fn set_key_retirement(&self, kid: &str, retires_at: i64) -> Result<()>;
    /// The longest access or id token lifetime among the tenant's clients
    /// (how long a retiring key must stay published).
    async fn max_token_ttl(&self, tenant_id: &str) -> Result<i64>;
}
