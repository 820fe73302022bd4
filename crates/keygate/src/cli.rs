//! The command line (documented in docs/cli.md).

use clap::{Args, Parser, Subcommand};

mod apis;
mod idps;
mod manage;
mod operators;
mod webhooks;
pub(crate) use apis::*;
pub(crate) use idps::*;
pub(crate) use manage::*;
pub(crate) use operators::*;
pub(crate) use webhooks::*;

#[derive(Parser)]
#[command(
    name = "keygate",
    version,
    about = "Keygate: a self-hosted OAuth 2.0 / OpenID Connect identity provider",
    after_help = "Commands other than serve print one JSON object on stdout. Exit status: 0 done; \
        2 bad arguments, a refused change, or a tenant, client or user that does not exist \
        (nothing is written); 1 the database or the environment failed."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the identity provider.
    Serve(ServeArgs),
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage clients (applications).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage APIs (resource servers) and their scopes.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Manage upstream identity providers (sign in with Google, GitHub, ...).
    Idp {
        #[command(subcommand)]
        command: IdpCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage operators of the admin console ({PUBLIC_URL}/admin/).
    Admin {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Manage a tenant's webhooks (signed POSTs of its audit events).
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Manage bearer tokens of the admin API.
    AdminToken {
        #[command(subcommand)]
        command: AdminTokenCommand,
    },
    /// Read the audit events (docs/events.md).
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum EventsCommand {
    /// Print the newest events, newest first: {"items": [...]}, each as
    /// `GET /admin/v1/events` shows it.
    List(EventsList),
}

#[derive(Args)]
pub(crate) struct EventsList {
    /// Only this tenant's events.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only events of this type (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// How many, 1 to 100
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand)]
pub(crate) enum AdminTokenCommand {
    /// Create a token; it is printed once ({"id", "token"}) and only its SHA-256 is stored.
    Create(DbOnly),
    /// List the tokens (ids and creation times; the tokens themselves are not stored).
    List(DbOnly),
    /// Revoke a token by its id.
    Revoke(AdminTokenRevoke),
}

#[derive(Args)]
pub(crate) struct DbOnly {
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct AdminTokenRevoke {
    /// The id printed by `keygate admin-token create`. Ids are base64url,
    /// so one may begin with '-'; it is still taken as the id.
    #[arg(allow_hyphen_values = true)]
    pub id: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Add a new signing key; the current one is retired once every token it signed has expired.
    Rotate(KeysRotate),
}

#[derive(Args)]
pub(crate) struct KeysRotate {
    #[arg(long)]
    pub tenant: String,
    /// RS256 (default), ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    pub alg: String,
    /// How long the new key is published before it signs [default: 15m]
    #[arg(long, default_value = "15m")]
    pub lead_time: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Where the database is; every command takes it.
#[derive(Args, Clone)]
pub(crate) struct DbArgs {
    /// sqlite://PATH or postgres://... [default: sqlite://keygate-data/keygate.db]
    #[arg(long, env = "KEYGATE_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Create the demo client and user (once) and print how to use them.
    #[arg(long)]
    pub dev: bool,
    /// A TOML file with settings (lowest precedence after defaults).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "KEYGATE_LISTEN")]
    pub listen: Option<String>,
    /// The origin users reach; issuers are built from it [default: http://127.0.0.1:8080]
    #[arg(long, env = "KEYGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Lifetime of authorization codes in seconds (at most 600) [default: 60]
    #[arg(long, env = "KEYGATE_CODE_TTL")]
    pub code_ttl: Option<i64>,
    /// Database connection pool size [default: 16]
    #[arg(long, env = "KEYGATE_DB_POOL_SIZE")]
    pub db_pool_size: Option<u32>,
    /// Seconds to wait for a database connection before failing a request [default: 10]
    #[arg(long, env = "KEYGATE_DB_TIMEOUT")]
    pub db_timeout: Option<u64>,
    /// How often expired records are deleted, in seconds [default: 60]
    #[arg(long, env = "KEYGATE_SWEEP_INTERVAL")]
    pub sweep_interval: Option<u64>,
    /// Failed sign-ins per account before a growing delay [default: 5]
    #[arg(long, env = "KEYGATE_SIGNIN_MAX_FAILURES")]
    pub signin_max_failures: Option<i64>,
    /// Failed sign-ins per client IP before a growing delay [default: 50]
    #[arg(long, env = "KEYGATE_SIGNIN_IP_MAX_FAILURES")]
    pub signin_ip_max_failures: Option<i64>,
    /// Registrations per client IP within an hour before a growing delay [default: 20]
    #[arg(long, env = "KEYGATE_REGISTER_IP_MAX")]
    pub register_ip_max: Option<i64>,
    /// Token-endpoint requests per second per client and node, or `off`;
    /// clients and tenants may set their own [default: 300]
    #[arg(long, env = "KEYGATE_TOKEN_RATE_LIMIT", value_parser = parse_rate)]
    pub token_rate_limit: Option<Rate>,
    /// Live, unredeemed authorization codes per person and client [default: 50]
    #[arg(long, env = "KEYGATE_MAX_OUTSTANDING_CODES")]
    pub max_outstanding_codes: Option<i64>,
    /// Failed client authentications per client before a growing delay [default: 20]
    #[arg(long, env = "KEYGATE_CLIENT_AUTH_MAX_FAILURES")]
    pub client_auth_max_failures: Option<i64>,
    /// Take the client IP from X-Forwarded-For (only behind a proxy that sets it).
    #[arg(long, env = "KEYGATE_TRUST_X_FORWARDED_FOR")]
    pub trust_x_forwarded_for: bool,
    /// Let documents named by clients (Client ID Metadata Documents) be
    /// fetched from private and loopback addresses and over http (tests and
    /// internal deployments only).
    #[arg(long, env = "KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS")]
    pub fetch_allow_private_networks: bool,
    /// Seconds before the first retry of a webhook delivery, doubling up
    /// to an hour [default: 10]
    #[arg(long, env = "KEYGATE_WEBHOOK_RETRY_BASE")]
    pub webhook_retry_base: Option<i64>,
    /// How often each node looks for due webhook deliveries, in seconds [default: 5]
    #[arg(long, env = "KEYGATE_WEBHOOK_POLL_INTERVAL")]
    pub webhook_poll_interval: Option<u64>,
    /// The bearer token of the admin API at /admin/v1 (prefer the environment
    /// variable: a flag shows in the process list). Without it, only tokens
    /// made by `keygate admin-token create` are accepted.
    #[arg(long, env = "KEYGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The SMTP server that sends e-mail: smtp://host:port,
    /// smtp://user:pass@host:587?tls=starttls or smtps://host:465 (prefer the
    /// environment variable when it holds a password)
    #[arg(long, env = "KEYGATE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From of every message, e.g. "Example <no-reply@example.com>"
    /// (required with an SMTP URL)
    #[arg(long, env = "KEYGATE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Seconds a password-reset link works, 1 to 1800 [default: 1800]
    #[arg(long, env = "KEYGATE_PASSWORD_RESET_TTL")]
    pub password_reset_ttl: Option<i64>,
    /// Password-reset requests per e-mail address within an hour before
    /// further ones send nothing for a while [default: 5]
    #[arg(long, env = "KEYGATE_RESET_MAX")]
    pub reset_max: Option<i64>,
    /// Password-reset requests per client IP within an hour [default: 20]
    #[arg(long, env = "KEYGATE_RESET_IP_MAX")]
    pub reset_ip_max: Option<i64>,
    /// Seconds an e-mail verification link works, 1 to 86400 [default: 86400]
    #[arg(long, env = "KEYGATE_VERIFY_EMAIL_TTL")]
    pub verify_email_ttl: Option<i64>,
    /// Verification messages sent again on request per e-mail address
    /// within an hour before further requests send nothing for a while
    /// [default: 5]
    #[arg(long, env = "KEYGATE_VERIFY_RESEND_MAX")]
    pub verify_resend_max: Option<i64>,
    /// Verification messages sent again on request per client IP within an
    /// hour [default: 20]
    #[arg(long, env = "KEYGATE_VERIFY_RESEND_IP_MAX")]
    pub verify_resend_ip_max: Option<i64>,
    /// How long audit events are kept (DURATION, e.g. 90d) before the
    /// sweeper deletes them [default: 90d]
    #[arg(long, env = "KEYGATE_EVENT_RETENTION")]
    pub event_retention: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum TenantCommand {
    /// Create a tenant.
    Create(TenantCreate),
    /// Print every tenant, in id order: {"items": [...]}, each as the admin API shows it.
    List(TenantList),
    /// Print a tenant as the admin API shows it.
    Show(TenantShow),
    /// Change a tenant's settings; prints the tenant as now stored.
    Update(TenantUpdate),
    /// Make an initial access token of the tenant's registration endpoint
    /// (`--dynamic-registration token`): {"token", "expires_at"}, shown once.
    RegistrationToken(RegistrationTokenArgs),
}

#[derive(Args)]
pub(crate) struct RegistrationTokenArgs {
    /// The tenant id.
    pub id: String,
    /// How long the token works (DURATION) [default: 7d]
    #[arg(long, default_value = "7d")]
    pub ttl: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct TenantCreate {
    /// The tenant id: [a-z0-9-]{1,63}
    pub id: String,
    /// An origin (https://login.example.com) that reaches this tenant at its root.
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// The name shown on the hosted pages [default: the id]
    #[arg(long)]
    pub display_name: Option<String>,
    /// Token-endpoint requests per second per client and node for this
    /// tenant's clients, or `off` [default: the server's KEYGATE_TOKEN_RATE_LIMIT]
    #[arg(long, value_parser = parse_rate)]
    pub token_rate_limit: Option<Rate>,
    /// Whether people may register themselves: open or closed [default: open]
    #[arg(long)]
    pub registration: Option<String>,
    /// Whether people must verify their e-mail address: off, optional or
    /// required [default: optional]
    #[arg(long)]
    pub verify_email: Option<String>,
    /// Whether people use a second factor: off, optional or required
    /// [default: optional]
    #[arg(long)]
    pub mfa: Option<String>,
    /// Whether clients may register themselves (RFC 7591): off, open or
    /// token (with an initial access token) [default: off]
    #[arg(long)]
    pub dynamic_registration: Option<String>,
    /// Whether an https client_id is a Client ID Metadata Document: on or
    /// off [default: off]
    #[arg(long)]
    pub client_id_metadata_documents: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a client.
    Create(ClientCreate),
    /// Print every client of a tenant, in id order: {"items": [...]}, each as the admin API shows it.
    List(ClientList),
    /// Print a client as the admin API shows it (never its secret).
    Show(ClientRef),
    /// Change a client's settings; prints the client as now stored.
    Update(ClientUpdate),
    /// Delete a client and revoke its grants: its tokens stop working.
    Delete(ClientRef),
    /// Give a confidential client a new secret, printed once; the old one stops working at once.
    RotateSecret(ClientRef),
    /// Grant a confidential client scopes of an API for its own tokens (client_credentials).
    Grant(ClientGrantArgs),
    /// Print a client's grants of APIs: {"items": [...]}.
    Grants(ClientGrantsOf),
    /// Remove a client's grant of an API.
    RevokeGrant(ClientGrantRef),
}

#[derive(Args)]
pub(crate) struct ClientCreate {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub name: String,
    /// A redirect URI, matched exactly (but any port on 127.0.0.1 or [::1],
    /// RFC 8252 7.3): https, http only on a loopback host
    /// (localhost, 127.0.0.1, [::1]), or a native app's reverse-domain scheme.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    pub public: bool,
    /// client_secret_basic (default), client_secret_post, private_key_jwt
    /// (with --jwks-file or --jwks-uri) or client_secret_jwt (docs/client-auth.md).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// private_key_jwt: a file holding the client's JWK Set (public keys only).
    #[arg(long)]
    pub jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt: where the client publishes its JWK Set (https).
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// Allowed grants, comma-separated: authorization_code, refresh_token,
    /// client_credentials, urn:ietf:params:oauth:grant-type:token-exchange
    /// [default: authorization_code,refresh_token]
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// always, offline_access (default) or never.
    #[arg(long)]
    pub refresh_tokens: Option<String>,
    /// Lifetime of id_tokens [default: 14d]
    #[arg(long)]
    pub id_token_ttl: Option<String>,
    /// Lifetime of access tokens [default: 24h]
    #[arg(long)]
    pub access_token_ttl: Option<String>,
    /// Absolute lifetime of a refresh-token family, from the first issue
    /// (sign-in); rotation never extends it [default: 90d]
    #[arg(long)]
    pub refresh_token_max_ttl: Option<String>,
    /// Allow the Journeys API (JSON sign-in and registration).
    #[arg(long)]
    pub journeys_api: bool,
    /// Every sign-in for this client needs a second factor (as if each
    /// request sent `acr_values=mfa`).
    #[arg(long)]
    pub require_mfa: bool,
    /// Someone else's application: people allow what it asks for on a
    /// consent page (no Journeys API).
    #[arg(long)]
    pub third_party: bool,
    /// Every token request must carry a DPoP proof (RFC 9449): tokens are
    /// always bound to the client's key.
    #[arg(long)]
    pub require_dpop: bool,
    /// Authorization requests must be pushed to /par first (RFC 9126).
    #[arg(long)]
    pub require_par: bool,
    /// A browser origin allowed to call the token, revocation, userinfo and Journeys endpoints (CORS).
    #[arg(long = "web-origin")]
    pub web_origins: Vec<String>,
    /// Where sign-out may return to.
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// RS256 (default), ES256 or EdDSA, for id_tokens and access tokens.
    #[arg(long)]
    pub id_token_signed_response_alg: Option<String>,
    /// PKCE methods a public client may use: s256 (default) or plain-allowed.
    #[arg(long)]
    pub pkce: Option<String>,
    /// Token-endpoint requests per second on each node, or `off` [default: the tenant's]
    #[arg(long, value_parser = parse_rate)]
    pub token_rate_limit: Option<Rate>,
    /// Where a logout token is POSTed when a session this client signed in
    /// with ends (OpenID Connect Back-Channel Logout): https, or http on a
    /// loopback host.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// An audience (absolute URI) the client may exchange tokens for
    /// (RFC 8693, with the token-exchange grant); repeat for several.
    #[arg(long = "exchange-audience")]
    pub exchange_audiences: Vec<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user.
    Create(UserCreate),
    /// Print every user of a tenant, in `sub` order: {"items": [...]}, each as the admin API shows it.
    List(UserList),
    /// Print a user as the admin API shows it.
    Show(UserRef),
    /// Change a user; prints the user as now stored.
    Update(UserUpdate),
    /// Delete a user, end their sessions and revoke their grants.
    Delete(UserRef),
    /// Print a user's second factors and unused recovery codes:
    /// {"items": [...], "recovery_codes": {"remaining": N}}, as the admin API shows them.
    Factors(UserRef),
    /// Remove one of a user's second factors (with the last one, their recovery codes).
    RemoveFactor(FactorRef),
    /// Remove every second factor and recovery code of a user and end their
    /// sessions: their next sign-in is with the password alone.
    ResetFactors(UserRef),
    /// Print what a user allowed third-party clients: {"items": [...]}.
    Consents(UserRef),
    /// Revoke what a user allowed a client (and the refresh tokens it allowed).
    RevokeConsent(ConsentRef),
}

/// One user's consent for one client: for `revoke-consent`.
#[derive(Args)]
pub(crate) struct ConsentRef {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub sub: SubArg,
    /// The client's id.
    #[arg(long, allow_hyphen_values = true)]
    pub client: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct UserCreate {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Create the person with their address already verified
    /// (`email_verified` true in their tokens; no verification message).
    #[arg(long)]
    pub email_verified: bool,
    /// Read the password from standard input (one line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub contact: ContactArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

/// A rate limit given as requests per second, `off` being 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate(pub i64);

/// Reads `N` or `off` (the form of `--token-rate-limit` and
/// `KEYGATE_TOKEN_RATE_LIMIT`).
pub(crate) fn parse_rate(s: &str) -> Result<Rate, String> {
    match s.trim() {
        "off" => Ok(Rate(0)),
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1_000_000).contains(n))
            .map(Rate)
            .ok_or_else(|| format!("'{s}' is not a rate: use a number of requests per second (0 to 1000000) or off")),
    }
}
