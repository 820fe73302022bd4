//! Arguments of the commands that read, change and delete what `create`
//! made: they mirror the admin API (README, "Admin API") and print its JSON
//! views. Lists print every record, `{"items": [...]}`, in id order (the
//! CLI reads all the API's pages itself). An unknown tenant, client or user
//! exits with 2 and a message saying it "does not exist".

use super::{parse_rate, DbArgs, Rate};
use clap::{ArgGroup, Args};

/// `N`, `off` or `default` (clear the setting: the tenant's or the
/// server's limit applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateSetting {
    Limit(Rate),
    Default,
}

impl RateSetting {
    /// As the admin API's PATCH field: a number, or null.
    pub(crate) fn patch(self) -> Option<i64> {
        match self {
            RateSetting::Limit(r) => Some(r.0),
            RateSetting::Default => None,
        }
    }
}

pub(crate) fn parse_rate_setting(s: &str) -> Result<RateSetting, String> {
    match s.trim() {
        "default" => Ok(RateSetting::Default),
        _ => parse_rate(s)
            .map(RateSetting::Limit)
            .map_err(|e| format!("{e}, or default")),
    }
}

/// The origin users reach, to print a tenant's issuer as the server does.
#[derive(Args, Clone)]
pub(crate) struct PublicUrlArg {
    /// The server's public URL, for the `issuer` printed
    /// [default: http://127.0.0.1:8080]
    #[arg(long, env = "KEYGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Args)]
pub(crate) struct TenantList {
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct TenantShow {
    /// The tenant id.
    pub id: String,
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
#[command(after_help = "Running servers see the change within 5 seconds (their cache).")]
#[command(group(ArgGroup::new("change").required(true).multiple(true)
    .args(["display_name", "domains", "no_domains", "token_rate_limit", "registration",
        "verify_email", "mfa"])))]
pub(crate) struct TenantUpdate {
    /// The tenant id.
    pub id: String,
    /// The name shown on the hosted pages.
    #[arg(long)]
    pub display_name: Option<String>,
    /// An origin that reaches this tenant at its root; the ones given
    /// replace every domain of the tenant.
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// Remove every domain of the tenant.
    #[arg(long, conflicts_with = "domains")]
    pub no_domains: bool,
    /// Token-endpoint requests per second per client and node, `off`, or
    /// `default` for the server's KEYGATE_TOKEN_RATE_LIMIT.
    #[arg(long, value_parser = parse_rate_setting)]
    pub token_rate_limit: Option<RateSetting>,
    /// Whether people may register themselves: open or closed.
    #[arg(long)]
    pub registration: Option<String>,
    /// Whether people must verify their e-mail address: off, optional or
    /// required.
    #[arg(long)]
    pub verify_email: Option<String>,
    /// Whether people use a second factor: off, optional or required.
    #[arg(long)]
    pub mfa: Option<String>,
    #[command(flatten)]
    pub public_url: PublicUrlArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct ClientList {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// One client: for `show`, `delete` and `rotate-secret`.
#[derive(Args)]
pub(crate) struct ClientRef {
    #[arg(long)]
    pub tenant: String,
    /// The client id (it may begin with '-'; it is still taken as the id).
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
#[command(
    after_help = "The flags of `client create`; a list given replaces the client's whole \
    list. A client stays public or confidential; its secret changes only by \
    `client rotate-secret`. Running servers see the change within 5 seconds (their cache)."
)]
#[command(group(ArgGroup::new("change").required(true).multiple(true).args([
    "name", "redirect_uris", "auth_method", "grants", "refresh_tokens", "id_token_ttl",
    "access_token_ttl", "refresh_token_max_ttl", "journeys_api", "web_origins", "no_web_origins",
    "post_logout_redirect_uris", "no_post_logout_redirect_uris",
    "id_token_signed_response_alg", "pkce", "token_rate_limit", "require_mfa", "third_party",
])))]
pub(crate) struct ClientUpdate {
    #[arg(long)]
    pub tenant: String,
    /// The client id (it may begin with '-'; it is still taken as the id).
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// A redirect URI, matched exactly: https, http only on a loopback host
    /// (localhost, 127.0.0.1, [::1]), or a native app's reverse-domain scheme.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// client_secret_basic or client_secret_post (confidential clients).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// Allowed grants, comma-separated: authorization_code, refresh_token,
    /// client_credentials.
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// always, offline_access or never.
    #[arg(long)]
    pub refresh_tokens: Option<String>,
    /// Lifetime of id_tokens (DURATION: 90s, 15m, 24h, 14d).
    #[arg(long)]
    pub id_token_ttl: Option<String>,
    /// Lifetime of access tokens.
    #[arg(long)]
    pub access_token_ttl: Option<String>,
    /// Absolute lifetime of a refresh-token family, from the first issue.
    #[arg(long)]
    pub refresh_token_max_ttl: Option<String>,
    /// Allow the Journeys API: true (the flag alone) or false.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub journeys_api: Option<bool>,
    /// Require a second factor at every sign-in: true (the flag alone) or false.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub require_mfa: Option<bool>,
    /// Ask people on a consent page: true (the flag alone) or false.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub third_party: Option<bool>,
    /// A browser origin allowed to call the token, revocation, userinfo and
    /// Journeys endpoints (CORS).
    #[arg(long = "web-origin")]
    pub web_origins: Vec<String>,
    /// Remove every web origin.
    #[arg(long, conflicts_with = "web_origins")]
    pub no_web_origins: bool,
    /// Where sign-out may return to.
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Remove every post-logout redirect URI.
    #[arg(long, conflicts_with = "post_logout_redirect_uris")]
    pub no_post_logout_redirect_uris: bool,
    /// RS256, ES256 or EdDSA, for id_tokens and access tokens.
    #[arg(long)]
    pub id_token_signed_response_alg: Option<String>,
    /// PKCE methods a public client may use: s256 or plain-allowed.
    #[arg(long)]
    pub pkce: Option<String>,
    /// Token-endpoint requests per second on each node, `off`, or `default`
    /// for the tenant's setting.
    #[arg(long, value_parser = parse_rate_setting)]
    pub token_rate_limit: Option<RateSetting>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub(crate) struct UserList {
    #[arg(long)]
    pub tenant: String,
    /// Only the user with this e-mail address (case-insensitive); none
    /// found prints no items.
    #[arg(long)]
    pub email: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The user's subject identifier, given as `SUB` or `--sub SUB`.
#[derive(Args)]
#[group(id = "user", required = true, multiple = false)]
pub(crate) struct SubArg {
    /// The user's subject identifier (`sub`; it may begin with '-').
    #[arg(allow_hyphen_values = true, value_name = "SUB")]
    pub sub: Option<String>,
    /// The same, as a flag.
    #[arg(long = "sub", value_name = "SUB", allow_hyphen_values = true)]
    pub sub_flag: Option<String>,
}

impl SubArg {
    pub(crate) fn get(&self) -> &str {
        self.sub
            .as_deref()
            .or(self.sub_flag.as_deref())
            .expect("clap requires one")
    }
}

/// One user: for `show` and `delete`.
#[derive(Args)]
pub(crate) struct UserRef {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub sub: SubArg,
    #[command(flatten)]
    pub db: DbArgs,
}

/// One second factor of one user: for `remove-factor`.
#[derive(Args)]
pub(crate) struct FactorRef {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub sub: SubArg,
    /// The factor's id, as `user factors` prints it (it may begin with '-').
    #[arg(long, allow_hyphen_values = true)]
    pub id: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
#[command(
    after_help = "A new password or e-mail address, or disabling, ends the person's \
    sessions and revokes their grants, as the admin API does."
)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)
    .args(["email", "name", "email_verified", "disabled", "password_stdin"])))]
pub(crate) struct UserUpdate {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub sub: SubArg,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    /// true or false.
    #[arg(long)]
    pub email_verified: Option<bool>,
    /// true (the person cannot sign in) or false.
    #[arg(long)]
    pub disabled: Option<bool>,
    /// Read a new password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn rate_settings() {
        assert_eq!(parse_rate_setting("12"), Ok(RateSetting::Limit(Rate(12))));
        assert_eq!(parse_rate_setting("off"), Ok(RateSetting::Limit(Rate(0))));
        assert_eq!(parse_rate_setting("default"), Ok(RateSetting::Default));
        assert_eq!(RateSetting::Default.patch(), None);
        assert_eq!(RateSetting::Limit(Rate(0)).patch(), Some(0));
        assert!(parse_rate_setting("-1").is_err());
        assert!(parse_rate_setting("fast")
            .unwrap_err()
            .ends_with("or default"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        crate::cli::Cli::command().debug_assert();
    }
}
