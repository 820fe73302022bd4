//! Arguments of the commands that read, change and delete what `create`
//! made: they mirror the admin API (README, "Admin API") and print its JSON
//! views. Lists print every record, `{"items": [...]}`, in id order (the
//! CLI reads all the API's pages itself). An unknown tenant, client or user
//! exits with 2 and a message saying it "does not exist".

use super::{parse_rate, DbArgs, Rate};
use clap::{ArgGroup, Args};
use keygate_server::provisioning::AddressFields;

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
        "verify_email", "mfa", "dynamic_registration", "client_id_metadata_documents"])))]
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
    /// Whether clients may register themselves (RFC 7591): off, open or
    /// token (with an initial access token) [default: off]
    #[arg(long)]
    pub dynamic_registration: Option<String>,
    /// Whether an https client_id is a Client ID Metadata Document: on or
    /// off [default: off]
    #[arg(long)]
    pub client_id_metadata_documents: Option<String>,
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
    "backchannel_logout_uri", "no_backchannel_logout_uri",
    "require_dpop",
    "require_par",
    "exchange_audiences", "no_exchange_audiences",
    "jwks_file", "jwks_uri",
])))]
pub(crate) struct ClientUpdate {
    #[arg(long)]
    pub tenant: String,
    /// The client id (it may begin with '-'; it is still taken as the id).
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// A redirect URI, matched exactly (but any port on 127.0.0.1 or [::1],
    /// RFC 8252 7.3): https, http only on a loopback host
    /// (localhost, 127.0.0.1, [::1]), or a native app's reverse-domain scheme.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// client_secret_basic, client_secret_post or private_key_jwt
    /// (confidential clients; docs/client-auth.md).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// private_key_jwt: a file holding the client's JWK Set (public keys);
    /// replaces the registered set and forgets a jwks_uri.
    #[arg(long, conflicts_with = "jwks_uri")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt: where the client publishes its JWK Set (https);
    /// forgets a registered set.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// Allowed grants, comma-separated: authorization_code, refresh_token,
    /// client_credentials, urn:ietf:params:oauth:grant-type:token-exchange.
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
    /// Require a DPoP proof with every token request: true (the flag alone) or false.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub require_dpop: Option<bool>,
    /// Authorization requests must be pushed to /par first (RFC 9126):
    /// true (the flag alone) or false.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub require_par: Option<bool>,
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
    /// Where a logout token is POSTed when a session this client signed in
    /// with ends (OpenID Connect Back-Channel Logout).
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// Remove the back-channel logout URI.
    #[arg(long, conflicts_with = "backchannel_logout_uri")]
    pub no_backchannel_logout_uri: bool,
    /// An audience (absolute URI) the client may exchange tokens for
    /// (RFC 8693); repeat for several; replaces the list.
    #[arg(long = "exchange-audience")]
    pub exchange_audiences: Vec<String>,
    /// Remove every exchange audience.
    #[arg(long, conflicts_with = "exchange_audiences")]
    pub no_exchange_audiences: bool,
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
    .args(["email", "name", "email_verified", "disabled", "password_stdin", "phone_number",
        "no_phone_number", "phone_number_verified", "address", "no_address", "address_formatted",
        "address_street", "address_locality", "address_region", "address_postal_code",
        "address_country"])))]
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
    pub contact: ContactArgs,
    /// Remove the telephone number.
    #[arg(long, conflicts_with_all = ["phone_number", "phone_number_verified"])]
    pub no_phone_number: bool,
    /// Remove the postal address.
    #[arg(long, conflicts_with_all = ADDRESS_ARGS)]
    pub no_address: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The flags that set an address.
const ADDRESS_ARGS: [&str; 7] = [
    "address",
    "address_formatted",
    "address_street",
    "address_locality",
    "address_region",
    "address_postal_code",
    "address_country",
];

/// A person's telephone number and postal address (the `phone_number` and
/// `address` claims), for `user create` and `user update`. On update the
/// `--address-*` parts change only those parts of the stored address;
/// `--address` replaces it whole.
#[derive(Args, Debug, Default)]
pub(crate) struct ContactArgs {
    /// The telephone number: '+' then 7 to 15 digits (E.164), such as +4915112345678.
    /// A new number is unverified unless --phone-number-verified true is given too.
    #[arg(long, allow_hyphen_values = true)]
    pub phone_number: Option<String>,
    /// true or false: whether the number is known to reach the person.
    #[arg(long)]
    pub phone_number_verified: Option<bool>,
    /// The whole postal address as a JSON object with any of formatted,
    /// street_address, locality, region, postal_code, country.
    #[arg(long, conflicts_with_all = &ADDRESS_ARGS[1..])]
    pub address: Option<String>,
    /// The address as printed on a label (several lines allowed).
    #[arg(long)]
    pub address_formatted: Option<String>,
    /// The street and house number.
    #[arg(long)]
    pub address_street: Option<String>,
    /// The city or locality.
    #[arg(long)]
    pub address_locality: Option<String>,
    /// The state, province or region.
    #[arg(long)]
    pub address_region: Option<String>,
    /// The postal code.
    #[arg(long)]
    pub address_postal_code: Option<String>,
    /// The country.
    #[arg(long)]
    pub address_country: Option<String>,
}

impl ContactArgs {
    /// The address the flags describe on top of `stored` (the parts not
    /// named stay), or `None` when no address flag was given. `--address`
    /// must be a JSON object of the address parts.
    pub(crate) fn address(
        &self,
        stored: Option<AddressFields>,
    ) -> Result<Option<AddressFields>, String> {
        if let Some(json) = &self.address {
            return serde_json::from_str(json)
                .map(Some)
                .map_err(|e| format!("--address: not a JSON object of address parts ({e})"));
        }
        let parts = [
            &self.address_formatted,
            &self.address_street,
            &self.address_locality,
            &self.address_region,
            &self.address_postal_code,
            &self.address_country,
        ];
        if parts.iter().all(|p| p.is_none()) {
            return Ok(None);
        }
        let mut a = stored.unwrap_or_default();
        let set = |field: &mut Option<String>, v: &Option<String>| {
            if let Some(v) = v {
                *field = Some(v.clone());
            }
        };
        set(&mut a.formatted, &self.address_formatted);
        set(&mut a.street_address, &self.address_street);
        set(&mut a.locality, &self.address_locality);
        set(&mut a.region, &self.address_region);
        set(&mut a.postal_code, &self.address_postal_code);
        set(&mut a.country, &self.address_country);
        Ok(Some(a))
    }
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
    fn address_flags() {
        let none = ContactArgs::default();
        assert_eq!(none.address(None), Ok(None));
        let parts = ContactArgs {
            address_locality: Some("Berlin".into()),
            address_postal_code: Some("10115".into()),
            ..ContactArgs::default()
        };
        let stored = AddressFields {
            locality: Some("Bonn".into()),
            country: Some("Germany".into()),
            ..AddressFields::default()
        };
        let merged = parts.address(Some(stored)).unwrap().unwrap();
        assert_eq!(merged.locality.as_deref(), Some("Berlin"));
        assert_eq!(merged.postal_code.as_deref(), Some("10115"));
        assert_eq!(merged.country.as_deref(), Some("Germany"));
        let json = ContactArgs {
            address: Some(r#"{"locality":"Paris"}"#.into()),
            ..ContactArgs::default()
        };
        let whole = json.address(Some(merged)).unwrap().unwrap();
        assert_eq!(whole.locality.as_deref(), Some("Paris"));
        assert_eq!(whole.country, None);
        let bad = ContactArgs {
            address: Some(r#"{"city":"Paris"}"#.into()),
            ..ContactArgs::default()
        };
        assert!(bad.address(None).unwrap_err().starts_with("--address"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        crate::cli::Cli::command().debug_assert();
    }
}
