//! The stored records the protocol reasons about. The store reads and writes
//! them; the core decides with them. Times are seconds since the Unix epoch.

use crate::pkce::CodeChallengeMethod;

/// Default lifetimes (docs/cli.md: 14-day id_token, 24-hour
/// access token; RFC 6749 4.1.2 recommends at most 10 minutes for a code).
pub const DEFAULT_ID_TOKEN_TTL: i64 = 14 * 86400;
pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 86400;
pub const DEFAULT_CODE_TTL: i64 = 60;
pub const MAX_CODE_TTL: i64 = 600;
/// A refresh token not used for this long expires; each rotation starts anew.
pub const REFRESH_TOKEN_TTL: i64 = 30 * 86400;
/// A refresh-token family (every token descending from one grant) ends this
/// long after the grant was made, however often it is rotated, unless the
/// client says otherwise (RFC 9700 4.14.2: refresh tokens should expire).
pub const DEFAULT_REFRESH_TOKEN_MAX_TTL: i64 = 90 * 86400;
/// A hosted-page session lasts this long from sign-in.
pub const SESSION_TTL: i64 = 14 * 86400;

pub const DEFAULT_TENANT: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    /// Canonical origins (`https://login.example.com`) that reach this tenant.
    pub domains: Vec<String>,
    pub created_at: i64,
    /// Token-endpoint requests per second per client and node for this
    /// tenant's clients (see [`Client::token_rate_limit`]); `None` takes the
    /// server's default, `Some(0)` turns the limit off.
    pub token_rate_limit: Option<i64>,
    /// Whether people may register themselves (docs/cli.md `--registration`).
    pub registration: Registration,
    /// Whether people must verify their e-mail address (docs/cli.md
    /// `--verify-email`).
    pub verify_email: VerifyEmail,
    /// Whether people use a second factor (docs/cli.md `--mfa`).
    pub mfa: MfaPolicy,
}

impl Tenant {
    /// A tenant with the default settings.
    pub fn new(id: impl Into<String>, display_name: impl Into<String>, created_at: i64) -> Self {
        Tenant {
            id: id.into(),
            display_name: display_name.into(),
            domains: Vec::new(),
            created_at,
            token_rate_limit: None,
            registration: Registration::default(),
            verify_email: VerifyEmail::default(),
            mfa: MfaPolicy::default(),
        }
    }
}

/// Defines a setting's enum: its variants with their names, `as_str`,
/// `parse`, `ALL` and the list of names for messages.
macro_rules! setting {
    ($(#[$meta:meta])* $name:ident { $first:ident = $first_s:literal $(, $variant:ident = $s:literal)* $(,)? } default $default:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $first,
            $($variant,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            pub const ALL: &'static [$name] = &[$name::$first $(, $name::$variant)*];
            /// The values' names joined by `|`, as the documentation shows them.
            pub const CHOICES: &'static str = concat!($first_s $(, "|", $s)*);
            /// The value's name, as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::$first => $first_s,
                    $($name::$variant => $s,)*
                }
            }
            /// The value with this exact name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $first_s => Some($name::$first),
                    $($s => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

setting! {
    /// Whether a tenant's hosted registration page and the Journeys API's
    /// `register` accept new people; `Closed` leaves only administrators
    /// (CLI and admin API) creating users.
    Registration { Open = "open", Closed = "closed" } default Open
}

setting! {
    /// Whether a tenant's people must verify their e-mail address: `Off`
    /// sends no verification message, `Optional` sends one at registration,
    /// `Required` also refuses sign-in until the address is verified.
    VerifyEmail { Off = "off", Optional = "optional", Required = "required" } default Optional
}

setting! {
    /// Whether a tenant's people use a second factor: `Off` offers none,
    /// `Optional` lets each person enrol, `Required` makes every person enrol.
    MfaPolicy { Off = "off", Optional = "optional", Required = "required" } default Optional
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// When a refresh token is issued (docs/cli.md `--refresh-tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPolicy {
    Always,
    OfflineAccess,
    Never,
}

impl RefreshPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshPolicy::Always => "always",
            RefreshPolicy::OfflineAccess => "offline_access",
            RefreshPolicy::Never => "never",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(RefreshPolicy::Always),
            "offline_access" => Some(RefreshPolicy::OfflineAccess),
            "never" => Some(RefreshPolicy::Never),
            _ => None,
        }
    }
}

/// Which PKCE methods (RFC 7636 4.2) a public client may use (docs/cli.md
/// `--pkce`). RFC 9700 2.1.1 asks for S256; `plain` (also what an omitted
/// `code_challenge_method` means) only for clients registered to allow it.
/// Confidential clients authenticate at the token endpoint as well, so
/// they may use `plain` either way (RFC 7636 4.2 allows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PkcePolicy {
    #[default]
    S256,
    PlainAllowed,
}

impl PkcePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PkcePolicy::S256 => "s256",
            PkcePolicy::PlainAllowed => "plain-allowed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "s256" => Some(PkcePolicy::S256),
            "plain-allowed" => Some(PkcePolicy::PlainAllowed),
            _ => None,
        }
    }
}

/// JWS algorithms Keygate signs tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(SigningAlg::RS256),
            "ES256" => Some(SigningAlg::ES256),
            "EdDSA" => Some(SigningAlg::EdDSA),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Public clients (RFC 6749 2.1) have no secret and must use PKCE.
    pub public: bool,
    /// SHA-256 of the secret (hex); secrets carry 256 bits of entropy, so a
    /// fast hash is enough and keeps client authentication cheap.
    pub secret_hash: Option<String>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub refresh_policy: RefreshPolicy,
    pub id_token_ttl: i64,
    pub access_token_ttl: i64,
    /// Absolute lifetime of a refresh-token family, from its grant's creation.
    pub refresh_token_max_ttl: i64,
    pub journeys_api: bool,
    pub web_origins: Vec<String>,
    pub signing_alg: SigningAlg,
    pub pkce: PkcePolicy,
    pub created_at: i64,
    /// Token-endpoint requests per second this client may make on each
    /// node; `None` takes the tenant's setting, `Some(0)` turns it off.
    pub token_rate_limit: Option<i64>,
}

impl Client {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub sub: String,
    pub tenant_id: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
    /// A disabled person cannot sign in; disabling ends their sessions and
    /// revokes their grants.
    pub disabled: bool,
}

/// One authorization: what a person granted a client at /authorize. The
/// authorization code is its single-use handle; refresh tokens descend from
/// it; revoking it ends every token it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub user_sub: String,
    pub scope: String,
    pub auth_time: i64,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<CodeChallengeMethod>,
    pub redirect_uri: String,
    /// Whether /authorize received `redirect_uri` (then /token must repeat it).
    pub redirect_uri_sent: bool,
    pub created_at: i64,
    pub code_expires_at: i64,
    pub code_consumed_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub grant_id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub tenant_id: String,
    pub user_sub: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_settings_parse_what_they_print() {
        assert_eq!(Registration::default(), Registration::Open);
        assert_eq!(VerifyEmail::default(), VerifyEmail::Optional);
        assert_eq!(MfaPolicy::default(), MfaPolicy::Optional);
        assert_eq!(Registration::CHOICES, "open|closed");
        assert_eq!(VerifyEmail::CHOICES, "off|optional|required");
        assert_eq!(MfaPolicy::CHOICES, "off|optional|required");
        for r in Registration::ALL {
            assert_eq!(Registration::parse(r.as_str()), Some(*r));
        }
        for v in VerifyEmail::ALL {
            assert_eq!(VerifyEmail::parse(v.as_str()), Some(*v));
        }
        for m in MfaPolicy::ALL {
            assert_eq!(MfaPolicy::parse(m.as_str()), Some(*m));
        }
        assert_eq!(Registration::parse("closed"), Some(Registration::Closed));
        assert_eq!(VerifyEmail::parse("required"), Some(VerifyEmail::Required));
        assert_eq!(MfaPolicy::parse("off"), Some(MfaPolicy::Off));
        // Exact names only: no case folding, no spaces, no synonyms.
        for bad in ["", "Open", "CLOSED", " open", "open ", "yes", "true", "1"] {
            assert_eq!(Registration::parse(bad), None, "{bad:?}");
        }
        for bad in ["", "Optional", "on", "none", "require", "required "] {
            assert_eq!(VerifyEmail::parse(bad), None, "{bad:?}");
            assert_eq!(MfaPolicy::parse(bad), None, "{bad:?}");
        }
    }
}
