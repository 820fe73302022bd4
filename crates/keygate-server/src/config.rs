//! Settings of a running server (built by the binary from flags,
//! environment and an optional TOML file).

use keygate_store::LimitPolicy;
use std::time::Duration;

/// The lifetime of a password-reset link, and its longest: 30 minutes.
pub const MAX_RESET_TTL: i64 = 1800;

/// The lifetime of an e-mail verification link, and its longest: 24 hours.
pub const MAX_VERIFY_EMAIL_TTL: i64 = 86_400;

/// Settings of a running server: the public URL, lifetimes, limits, mail and the admin token.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The origin users reach, without a trailing slash; issuers are built from it.
    pub public_url: String,
    /// Lifetime of authorization codes (at most 10 minutes).
    pub code_ttl: i64,
    /// How long audit events are kept (seconds) before the sweeper deletes
    /// them (docs/events.md).
    pub event_retention: i64,
    /// The wait (seconds) before the first retry of a webhook delivery,
    /// doubling up to an hour (`KEYGATE_WEBHOOK_RETRY_BASE`; docs/webhooks.md).
    pub webhook_retry_base: i64,
    /// How often each node looks for due webhook deliveries without being
    /// woken (`KEYGATE_WEBHOOK_POLL_INTERVAL`).
    pub webhook_poll: Duration,
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
    /// Registrations (successful or not) per client IP before a growing
    /// delay: each new account is a row that nobody authenticated.
    pub register_ip_limit: LimitPolicy,
    /// Wrong user codes entered on the device page per client IP before a
    /// growing delay (RFC 8628 5.1: user codes are short, so guessing is
    /// limited).
    pub device_ip_limit: LimitPolicy,
    /// Live, unredeemed authorization codes one person may hold for one
    /// client; past it /authorize answers 429 until codes are redeemed or
    /// expire (each code is a row that no client has yet authenticated).
    pub max_outstanding_codes: i64,
    /// Token-endpoint requests per second per client and node for clients
    /// and tenants without a setting of their own (0: off).
    pub token_rate_limit: i64,
    /// Take the client IP from the last `X-Forwarded-For` entry (only
    /// behind a proxy that sets it; otherwise clients could choose their IP).
    pub trust_forwarded_for: bool,
    /// Whether documents named by clients (Client ID Metadata Documents)
    /// may be fetched from private, loopback and link-local addresses and
    /// over plain http (`KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS`; tests and
    /// internal deployments only).
    pub fetch_allow_private: bool,
    /// SHA-256 (hex) of the admin API's bearer token given at start
    /// (`KEYGATE_ADMIN_TOKEN`); tokens made by `keygate admin-token create`
    /// are in the store.
    pub admin_token_hash: Option<String>,
    /// The demo client's callback page of `keygate serve --dev`
    /// ([`crate::dev`]); `None` outside dev mode, where it is not routed.
    pub dev_callback: Option<crate::dev::DevCallback>,
    /// How this node delivers e-mail, and the `From` of every message.
    pub mail: crate::mail::MailSettings,
    /// How long a password-reset link works, in seconds (at most 30
    /// minutes; shorter only by `KEYGATE_PASSWORD_RESET_TTL`).
    pub reset_ttl: i64,
    /// Password-reset requests per e-mail address (tenant and address):
    /// past it, no more messages for a while.
    pub reset_account_limit: LimitPolicy,
    /// Password-reset requests per client IP.
    pub reset_ip_limit: LimitPolicy,
    /// How long an e-mail verification link works, in seconds (at most 24
    /// hours; shorter only by `KEYGATE_VERIFY_EMAIL_TTL`).
    pub verify_email_ttl: i64,
    /// Verification messages sent again on request, per e-mail address
    /// (tenant and address): past it, no more for a while.
    pub verify_resend_account_limit: LimitPolicy,
    /// Verification messages sent again on request, per client IP.
    pub verify_resend_ip_limit: LimitPolicy,
}

impl ServerConfig {
    /// The defaults for a server at `public_url` (a trailing `/` is dropped).
    pub fn new(public_url: &str) -> Self {
        ServerConfig {
            public_url: public_url.trim_end_matches('/').to_string(),
            code_ttl: keygate_core::model::DEFAULT_CODE_TTL,
            event_retention: 90 * 86400,
            webhook_retry_base: keygate_core::webhooks::BASE_DELAY,
            webhook_poll: Duration::from_secs(5),
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
            register_ip_limit: LimitPolicy {
                max_failures: 20,
                window: 3600,
                base_block: 60,
                max_block: 3600,
            },
            device_ip_limit: LimitPolicy {
                max_failures: 10,
                window: 900,
                base_block: 60,
                max_block: 3600,
            },
            max_outstanding_codes: 50,
            token_rate_limit: 300,
            trust_forwarded_for: false,
            fetch_allow_private: false,
            admin_token_hash: None,
            dev_callback: None,
            mail: crate::mail::MailSettings::default(),
            reset_ttl: MAX_RESET_TTL,
            reset_account_limit: LimitPolicy {
                max_failures: 5,
                window: 3600,
                base_block: 900,
                max_block: 3600,
            },
            reset_ip_limit: LimitPolicy {
                max_failures: 20,
                window: 3600,
                base_block: 900,
                max_block: 3600,
            },
            verify_email_ttl: MAX_VERIFY_EMAIL_TTL,
            verify_resend_account_limit: LimitPolicy {
                max_failures: 5,
                window: 3600,
                base_block: 900,
                max_block: 3600,
            },
            verify_resend_ip_limit: LimitPolicy {
                max_failures: 20,
                window: 3600,
                base_block: 900,
                max_block: 3600,
            },
        }
    }

    /// Whether cookies must be `Secure` (and `__Host-` prefixed).
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
