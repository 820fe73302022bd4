//! The stored records the protocol reasons about. The store reads and writes
//! them; the core decides with them. Times are seconds since the Unix epoch.

use crate::pkce::CodeChallengeMethod;

// Default lifetimes (docs/cli.md: 14-day id_token, 24-hour
// access token; RFC 6749 4.1.2 recommends at most 10 minutes for a code).

/// A client's id_token lifetime when it sets none: 14 days.
pub const DEFAULT_ID_TOKEN_TTL: i64 = 14 * 86400;
/// A client's access-token lifetime when it sets none: 24 hours.
pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 86400;
/// How long an authorization code stays exchangeable when the server is not
/// told otherwise (`--code-ttl`): one minute.
pub const DEFAULT_CODE_TTL: i64 = 60;
/// The longest code lifetime `--code-ttl` accepts: the 10 minutes RFC 6749
/// 4.1.2 recommends as a maximum.
pub const MAX_CODE_TTL: i64 = 600;
/// A refresh token not used for this long expires; each rotation starts anew.
pub const REFRESH_TOKEN_TTL: i64 = 30 * 86400;
/// A refresh-token family (every token descending from one grant) ends this
/// long after the grant was made, however often it is rotated, unless the
/// client says otherwise (RFC 9700 4.14.2: refresh tokens should expire).
pub const DEFAULT_REFRESH_TOKEN_MAX_TTL: i64 = 90 * 86400;
/// A hosted-page session lasts this long from sign-in.
pub const SESSION_TTL: i64 = 14 * 86400;

/// The id of the tenant that always exists: it serves the root of the
/// public URL for any host that is not another tenant's domain.
pub const DEFAULT_TENANT: &str = "default";

/// One tenant: an issuer of its own with its own clients, people and sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's id, `[a-z0-9-]{1,63}`; its issuer is `{public URL}/{id}/as`.
    pub id: String,
    /// The name shown on the hosted pages.
    pub display_name: String,
    /// Canonical origins (`https://login.example.com`) that reach this tenant.
    pub domains: Vec<String>,
    /// When the tenant was created.
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
    /// Whether clients may register themselves (RFC 7591; docs/apis.md).
    pub dynamic_registration: DynamicRegistration,
    /// Whether an https `client_id` is a Client ID Metadata Document.
    pub client_id_metadata_documents: MetadataDocuments,
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
            dynamic_registration: DynamicRegistration::default(),
            client_id_metadata_documents: MetadataDocuments::default(),
        }
    }
}

/// Defines a setting's enum: its variants with their names, `as_str`,
/// `parse`, `ALL` and the list of names for messages.
macro_rules! setting {
    ($(#[$meta:meta])* $name:ident {
        $(#[$first_meta:meta])* $first:ident = $first_s:literal
        $(, $(#[$variant_meta:meta])* $variant:ident = $s:literal)* $(,)?
    } default $default:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[$first_meta])*
            $first,
            $($(#[$variant_meta])* $variant,)*
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
    Registration {
        /// Anyone may register (the default).
        Open = "open",
        /// Only administrators create users.
        Closed = "closed",
    } default Open
}

setting! {
    /// Whether a tenant's people must verify their e-mail address: `Off`
    /// sends no verification message, `Optional` sends one at registration,
    /// `Required` also refuses sign-in until the address is verified.
    VerifyEmail {
        /// No verification message is sent.
        Off = "off",
        /// A verification message is sent; signing in does not wait for it.
        Optional = "optional",
        /// Signing in needs a verified address.
        Required = "required",
    } default Optional
}

setting! {
    /// Whether a tenant's people use a second factor: `Off` offers none,
    /// `Optional` lets each person enrol, `Required` makes every person enrol.
    MfaPolicy {
        /// No second factor is offered.
        Off = "off",
        /// Each person may enrol a second factor.
        Optional = "optional",
        /// Every person must enrol and use a second factor.
        Required = "required",
    } default Optional
}

setting! {
    /// Whether clients may register themselves at the tenant's
    /// registration endpoint (RFC 7591): `Off`, `Open` to anyone, or with
    /// an initial access token (`Token`).
    DynamicRegistration {
        /// No registration endpoint.
        Off = "off",
        /// Anyone may register a client.
        Open = "open",
        /// Registering needs an initial access token.
        Token = "token",
    } default Off
}

setting! {
    /// Whether an https `client_id` is read as a Client ID Metadata
    /// Document, fetched from that URL.
    MetadataDocuments {
        /// Only registered clients.
        Off = "off",
        /// https client ids are fetched and used.
        On = "on",
    } default Off
}

/// How a client authenticates at the token endpoint (RFC 6749 2.3, OpenID Connect Core 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No authentication: a public client, identified by `client_id` alone.
    None,
    /// The secret in an HTTP Basic `Authorization` header (RFC 6749 2.3.1).
    ClientSecretBasic,
    /// The secret as the `client_secret` form parameter (RFC 6749 2.3.1).
    ClientSecretPost,
    /// A JWT signed with one of the client's registered keys (RFC 7523 2.2,
    /// OpenID Connect Core 9).
    PrivateKeyJwt,
    /// A JWT signed by HMAC with the client's secret (OpenID Connect Core 9).
    ClientSecretJwt,
}

impl AuthMethod {
    /// The method's registered name (`token_endpoint_auth_method`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
        }
    }
    /// The method of a registered name; `None` for any other.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            "client_secret_jwt" => Some(AuthMethod::ClientSecretJwt),
            _ => None,
        }
    }
}

/// The grant types a client may be allowed (RFC 6749 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// `authorization_code`: a code from /authorize exchanged for tokens (RFC 6749 4.1).
    AuthorizationCode,
    /// `refresh_token`: a refresh token exchanged for new tokens (RFC 6749 6).
    RefreshToken,
    /// `client_credentials`: a confidential client acting for itself (RFC 6749 4.4).
    ClientCredentials,
    /// The device authorization grant (RFC 8628 3.4).
    DeviceCode,
    /// Token exchange (RFC 8693 2.1).
    TokenExchange,
}

impl GrantType {
    /// Every grant type; [`GrantType::parse`] looks a name up among them.
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
        GrantType::TokenExchange,
    ];
    /// The grant type's name as sent in `grant_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }
    /// The grant type of a `grant_type` value; `None` for any other.
    pub fn parse(s: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// When a refresh token is issued (docs/cli.md `--refresh-tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPolicy {
    /// With every code or refresh-token exchange (if the client may use the refresh_token grant).
    Always,
    /// Only when the grant's scope holds `offline_access` (OpenID Connect Core 11).
    OfflineAccess,
    /// Never: the client signs the person in again when its tokens expire.
    Never,
}

impl RefreshPolicy {
    /// The policy's name in the CLI and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshPolicy::Always => "always",
            RefreshPolicy::OfflineAccess => "offline_access",
            RefreshPolicy::Never => "never",
        }
    }
    /// The policy of a CLI or admin API name; `None` for any other.
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
    /// Only `S256`.
    #[default]
    S256,
    /// `S256` or `plain` (RFC 7636 4.2 keeps `plain` for clients that cannot do `S256`).
    PlainAllowed,
}

impl PkcePolicy {
    /// The policy's name in the CLI and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            PkcePolicy::S256 => "s256",
            PkcePolicy::PlainAllowed => "plain-allowed",
        }
    }
    /// The policy of a CLI or admin API name; `None` for any other.
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
    /// RSASSA-PKCS1-v1_5 with SHA-256 on an RSA-2048 key (RFC 7518 3.3); a client's default.
    RS256,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 3.4).
    ES256,
    /// Ed25519 (RFC 8037 3.1).
    EdDSA,
}

impl SigningAlg {
    /// The algorithm's JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
    /// The algorithm of a JWS `alg` name (case-sensitive); `None` for any other.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(SigningAlg::RS256),
            "ES256" => Some(SigningAlg::ES256),
            "EdDSA" => Some(SigningAlg::EdDSA),
            _ => None,
        }
    }
}

/// A registered client (RFC 6749 2) of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The `client_id`: random, and unique across all tenants.
    pub id: String,
    /// The tenant the client belongs to.
    pub tenant_id: String,
    /// The name shown to people on the sign-in and registration pages.
    pub name: String,
    /// Public clients (RFC 6749 2.1) have no secret and must use PKCE.
    pub public: bool,
    /// SHA-256 of the secret (hex); secrets carry 256 bits of entropy, so a
    /// fast hash is enough and keeps client authentication cheap.
    pub secret_hash: Option<String>,
    /// How the client authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// The registered redirect URIs, compared exactly (RFC 9700 2.1).
    pub redirect_uris: Vec<String>,
    /// Where sign-out may send the browser back to (OpenID Connect RP-Initiated Logout 3).
    pub post_logout_redirect_uris: Vec<String>,
    /// The grant types the client may use at the token endpoint.
    pub grant_types: Vec<GrantType>,
    /// When the client receives refresh tokens.
    pub refresh_policy: RefreshPolicy,
    /// Lifetime of the client's id_tokens, in seconds.
    pub id_token_ttl: i64,
    /// Lifetime of the client's access tokens, in seconds.
    pub access_token_ttl: i64,
    /// Absolute lifetime of a refresh-token family, from its grant's creation.
    pub refresh_token_max_ttl: i64,
    /// Whether the client may use the Journeys API (JSON sign-in and registration ending in a
    /// code).
    pub journeys_api: bool,
    /// Browser origins allowed to call the token, revocation, userinfo and Journeys endpoints
    /// (CORS).
    pub web_origins: Vec<String>,
    /// The algorithm of the client's id_tokens and access tokens.
    pub signing_alg: SigningAlg,
    /// Which PKCE methods the client may use when it is public.
    pub pkce: PkcePolicy,
    /// When the client was registered.
    pub created_at: i64,
    /// Token-endpoint requests per second this client may make on each
    /// node; `None` takes the tenant's setting, `Some(0)` turns it off.
    pub token_rate_limit: Option<i64>,
    /// Whether every sign-in for this client needs a second factor (as if
    /// each request sent `acr_values=mfa`).
    pub require_mfa: bool,
    /// A client of someone else: people allow what it asks for on a
    /// consent page, once per scope set (docs/apis.md, "Consent").
    pub third_party: bool,
    /// The SHA-256 of a registered client's registration access token
    /// (RFC 7592); `None` for clients made by operators.
    pub registration_token_hash: Option<String>,
    /// When a registered client first got a code or a token (the sweeper
    /// deletes registered clients never used).
    pub first_used_at: Option<i64>,
    /// The client's public keys as a JWK Set document (JSON), for
    /// `private_key_jwt` (RFC 7523) when they are registered by value.
    pub jwks: Option<String>,
    /// Where the client's JWK Set is fetched from, for `private_key_jwt`
    /// when its keys are registered by reference.
    pub jwks_uri: Option<String>,
    /// The client's secret sealed under the master key: only for
    /// `client_secret_jwt`, whose HMAC check needs the secret itself (every
    /// other method keeps only its hash).
    pub secret_sealed: Option<String>,
    /// Whether every token request must carry a DPoP proof (RFC 9449).
    pub require_dpop: bool,
    /// Whether authorization requests must be pushed first (RFC 9126 6).
    pub require_par: bool,
    /// The audiences this client may ask for by token exchange (RFC 8693).
    pub exchange_audiences: Vec<String>,
    /// Where logout tokens are sent when a person's session ends (OpenID
    /// Connect Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
}

impl Client {
    /// A confidential client of tenant `t` with one redirect URI, for unit tests.
    #[cfg(test)]
    pub(crate) fn example() -> Client {
        Client {
            id: "c1".into(),
            tenant_id: "t".into(),
            name: "n".into(),
            public: false,
            secret_hash: Some("h".into()),
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec!["https://app.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            refresh_policy: RefreshPolicy::OfflineAccess,
            id_token_ttl: 1,
            access_token_ttl: 1,
            refresh_token_max_ttl: DEFAULT_REFRESH_TOKEN_MAX_TTL,
            journeys_api: false,
            web_origins: vec![],
            signing_alg: SigningAlg::RS256,
            pkce: PkcePolicy::S256,
            created_at: 0,
            token_rate_limit: None,
            require_mfa: false,
            third_party: false,
            registration_token_hash: None,
            first_used_at: None,
            jwks: None,
            jwks_uri: None,
            secret_sealed: None,
            require_dpop: false,
            require_par: false,
            exchange_audiences: Vec::new(),
            backchannel_logout_uri: None,
        }
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A person who signs in to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The subject identifier (the `sub` claim, OpenID Connect Core 2): random, and never changed.
    pub sub: String,
    /// The tenant the person belongs to.
    pub tenant_id: String,
    /// The address the person signs in with; unique within the tenant.
    pub email: String,
    /// Whether the address is known to reach the person (the `email_verified` claim).
    pub email_verified: bool,
    /// The person's full name (the `name` claim), if known.
    pub name: Option<String>,
    /// The Argon2id hash of the password, in PHC string form (salt and parameters included).
    pub password_hash: String,
    /// When the person was created.
    pub created_at: i64,
    /// A disabled person cannot sign in; disabling ends their sessions and
    /// revokes their grants.
    pub disabled: bool,
    /// The person's telephone number (the `phone_number` claim), `+` then
    /// 7 to 15 digits ([`crate::contact::check_phone_number`]).
    pub phone_number: Option<String>,
    /// Whether an operator confirmed the number reaches the person (the
    /// `phone_number_verified` claim); a person changing it resets it.
    pub phone_number_verified: bool,
    /// The person's postal address (the `address` claim).
    pub address: Option<Address>,
}

/// A postal address, the `address` claim (OpenID Connect Core 5.1.1);
/// every part optional, checked by [`crate::contact::check_address`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// The full address as it would be displayed or printed on a label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// The street, house number, and so on; may hold several lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// The city or locality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// The state, province, prefecture or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The zip or postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// The country name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    /// Whether no part is set (stored as no address at all).
    pub fn is_empty(&self) -> bool {
        self == &Address::default()
    }
}

/// One authorization: what a person granted a client at /authorize. The
/// authorization code is its single-use handle; refresh tokens descend from
/// it; revoking it ends every token it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The grant's id: a time stamp then random characters, so new grants land on the same index
    /// pages.
    pub id: String,
    /// The tenant the grant was made in.
    pub tenant_id: String,
    /// The client the person authorized.
    pub client_id: String,
    /// The person who authorized it.
    pub user_sub: String,
    /// The granted scope, space-separated (RFC 6749 3.3); tokens of the grant never exceed it.
    pub scope: String,
    /// When the person signed in (the id_token's `auth_time`), which may be before the grant.
    pub auth_time: i64,
    /// The `nonce` of the authorization request, echoed in the id_token
    /// (OpenID Connect Core 3.1.2.1).
    pub nonce: Option<String>,
    /// The PKCE `code_challenge` the code's verifier must match (RFC 7636 4.2), if one was sent.
    pub code_challenge: Option<String>,
    /// How `code_challenge` was derived from the verifier; `None` when there is no challenge.
    pub code_challenge_method: Option<CodeChallengeMethod>,
    /// The redirect URI the code was sent to (the client's only one when the request named none).
    pub redirect_uri: String,
    /// Whether /authorize received `redirect_uri` (then /token must repeat it).
    pub redirect_uri_sent: bool,
    /// When the person authorized the client.
    pub created_at: i64,
    /// When the code stops being exchangeable (seconds since the epoch).
    pub code_expires_at: i64,
    /// When the code was exchanged; a second exchange revokes the grant (RFC 6749 4.1.2).
    pub code_consumed_at: Option<i64>,
    /// When the grant was revoked; every token it produced is then refused.
    pub revoked_at: Option<i64>,
    /// How the person signed in (RFC 8176 values, see [`crate::amr`]),
    /// echoed as the id_token's `amr`; empty when unknown.
    pub amr: Vec<String>,
    /// The `acr` value the sign-in satisfied, when the request asked for
    /// one ([`crate::amr::MFA_ACR_VALUES`]), echoed as the id_token's `acr`.
    pub acr: Option<String>,
    /// The API the grant's access tokens are for (its identifier, their
    /// `aud`); `None`: the client's own (RFC 9068 default).
    pub resource: Option<String>,
    /// The claims the request's `claims` parameter asked for by name
    /// (OpenID Connect Core 5.5), released whatever the scope.
    pub claims: crate::claims_request::RequestedClaims,
    /// The DPoP key (its RFC 7638 thumbprint) the grant is bound to: the
    /// `dpop_jkt` of the authorization request (RFC 9449 10), or the key
    /// of a public client's first proof at the token endpoint (RFC 9449 5).
    /// The code then needs a proof by this key, and so do a public
    /// client's refresh tokens.
    pub dpop_jkt: Option<String>,
    /// The browser session the grant was made from (Back-Channel Logout
    /// 2.1): its `sid` is echoed in every id_token of the grant, refreshed
    /// ones too, and the session's end is told to the client. `None` for a
    /// grant made without one (the Journeys API, the device flow, token
    /// exchange): no `sid`, no logout.
    pub session: Option<GrantSession>,
}

/// The session a grant was made from, as the grant keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSession {
    /// The session's `sid` ([`Session::sid`]).
    pub sid: String,
    /// The issuer of the front door the grant was made at: the `iss` of
    /// its id_tokens, and so of the logout tokens that follow them.
    pub issuer: String,
}

/// The record of one refresh token (the store keys it by the hash of its value, which is never
/// kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The grant the token descends from; its scope and revocation apply.
    pub grant_id: String,
    /// The tenant it was issued in.
    pub tenant_id: String,
    /// The client it was issued to; only that client may use it.
    pub client_id: String,
    /// When it was issued.
    pub created_at: i64,
    /// When it expires unused: sliding, but never past its family's absolute end.
    pub expires_at: i64,
    /// When it was exchanged for its successor; a reuse after that revokes the grant
    /// (RFC 9700 4.14.2).
    pub consumed_at: Option<i64>,
}

/// A signed-in browser on the hosted pages (the store keys it by the hash of its cookie value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The tenant the person signed in to.
    pub tenant_id: String,
    /// The person signed in.
    pub user_sub: String,
    /// When the person signed in; `max_age` and the id_token's `auth_time` use it.
    pub auth_time: i64,
    /// When the session ends, [`SESSION_TTL`] after sign-in however active it is.
    pub expires_at: i64,
    /// The IP address the session was started from, shown on the account
    /// page so a person can recognise their sessions.
    pub ip: Option<String>,
    /// The browser's `User-Agent` when the session started (at most 200
    /// characters), shown on the account page.
    pub user_agent: Option<String>,
    /// How the person signed in (RFC 8176 values, see [`crate::amr`]); a
    /// request demanding a second factor steps up a session without `mfa`.
    pub amr: Vec<String>,
    /// The session's `sid` (OpenID Connect Back-Channel Logout 2.1): a
    /// random value drawn when the session starts, unrelated to its cookie,
    /// put in the id_tokens of its grants and in the logout tokens sent when
    /// it ends. A new sign-in of the same person in the same browser keeps it.
    pub sid: String,
}

/// An API (resource server) of a tenant: tokens for it carry its
/// identifier as `aud` (RFC 9068) and only the scopes it defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Its identifier: an absolute URI without a fragment (RFC 8707), the
    /// `audience` or `resource` clients send and the tokens' `aud`.
    pub identifier: String,
    /// A name for people (consent pages, the console).
    pub name: String,
    /// The scopes it defines, each a scope token (RFC 6749 3.3).
    pub scopes: Vec<String>,
    /// The lifetime of its access tokens; `None` takes the client's.
    pub access_token_ttl: Option<i64>,
    /// The algorithm of its access tokens; `None` takes the client's.
    pub signing_alg: Option<SigningAlg>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
}

/// Which scopes of an API a client may get for itself (client_credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    /// The tenant of both.
    pub tenant_id: String,
    /// The client.
    pub client_id: String,
    /// The API's identifier.
    pub api: String,
    /// The scopes granted, each defined by the API.
    pub scopes: Vec<String>,
}

/// What a person allowed a third-party client: scopes of its own tokens
/// (`resource` empty) or of one API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The tenant of both.
    pub tenant_id: String,
    /// The person.
    pub user_sub: String,
    /// The client.
    pub client_id: String,
    /// The API's identifier, or empty for the client's own tokens.
    pub resource: String,
    /// The scopes allowed.
    pub scopes: Vec<String>,
    /// When they were (last) allowed (seconds since the epoch).
    pub granted_at: i64,
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
