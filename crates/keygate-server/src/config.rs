//! Settings of a running server (built by the binary from flags,
//! environment and an optional TOML file).

use keygate_store::LimitPolicy;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The origin users reach, without a trailing slash; issuers are built from it.
    pub public_url: String,
    /// Lifetime of authorization codes (at most 10 minutes).
    pub code_ttl: i64,
    /// How stale a cached client, tenant or key set may be. A deleted client
    /// or a rotated key is seen by every node within this bound.
    pub cache_ttl: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Failed sign-ins per account (e-mail) before a growing delay.
    pub signin_account_limit: LimitPolicy,
    /// Failed sign-ins per client IP before a growing delay.
    pub signin_ip_limit: LimitPolicy,
    /// Failed client authentications per client before a growing delay.
    pub client_auth_limit: LimitPolicy,
    /// Take the client IP from the last `X-Forwarded-For` entry (only
    /// behind a proxy that sets it; otherwise clients could choose their IP).
    pub trust_forwarded_for: bool,
    /// SHA-256 (hex) of the admin API's bearer token given at start
    /// (`KEYGATE_ADMIN_TOKEN`); tokens made by `keygate admin-token create`
    /// are in the store.
    pub admin_token_hash: Option<String>,
}

impl ServerConfig {
    pub fn new(public_url: &str) -> Self {
        ServerConfig {
            public_url: public_url.trim_end_matches('/').to_string(),
            code_ttl: keygate_core::model::DEFAULT_CODE_TTL,
            cache_ttl: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            signin_account_limit: LimitPolicy {
                max_failures: 5,
                window: 900,
                base_block: 30,
                max_block: 900,
            },
            signin_ip_limit: LimitPolicy {
                max_failures: 50,
                window: 900,
                base_block: 30,
                max_block: 900,
            },
            client_auth_limit: LimitPolicy {
                max_failures: 20,
                window: 300,
                base_block: 30,
                max_block: 900,
            },
            trust_forwarded_for: false,
            admin_token_hash: None,
        }
    }

    /// Whether cookies must be `Secure` (and `__Host-` prefixed).
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
