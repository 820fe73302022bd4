//! What the admin API answers: the stored records as JSON, without hashes.

use keygate_core::model::{Client, Tenant, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::provisioning::{
    AddressFields, DynamicRegistrationName, GrantTypeName, MetadataDocumentsName, MfaPolicyName,
    PkcePolicyName, RefreshPolicyName, RegistrationName, SigningAlgName, VerifyEmailName,
};

/// A tenant: one issuer with its own clients, people and settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// The tenant's id, `[a-z0-9-]{1,63}`; it names the tenant in admin API paths and in
    /// its issuer.
    #[schema(example = "acme")]
    pub id: String,
    /// The name shown to people on the hosted sign-in and registration pages.
    pub display_name: String,
    /// Origins (`https://login.acme.example`) that reach this tenant at their root; each
    /// is an issuer too.
    pub domains: Vec<String>,
    /// The issuer of the tenant's path front door.
    #[schema(example = "https://id.example.com/acme/as")]
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// Token-endpoint requests per second per client and node (0: off);
    /// absent when the server's default applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_rate_limit: Option<i64>,
    /// Whether people may register themselves (`open` or `closed`).
    #[schema(value_type = RegistrationName)]
    pub registration: &'static str,
    /// Whether people must verify their e-mail address.
    #[schema(value_type = VerifyEmailName)]
    pub verify_email: &'static str,
    /// Whether people use a second factor.
    #[schema(value_type = MfaPolicyName)]
    pub mfa: &'static str,
    /// Whether clients may register themselves (RFC 7591).
    #[schema(value_type = DynamicRegistrationName)]
    pub dynamic_registration: &'static str,
    /// Whether an https `client_id` is a Client ID Metadata Document.
    #[schema(value_type = MetadataDocumentsName)]
    pub client_id_metadata_documents: &'static str,
}

impl TenantView {
    /// The view of `t`, with its path issuer under `public_url` (the server's public URL,
    /// no trailing slash).
    pub fn new(t: Tenant, public_url: &str) -> Self {
        TenantView {
            issuer: format!("{public_url}/{}/as", t.id),
            id: t.id,
            display_name: t.display_name,
            domains: t.domains,
            created_at: t.created_at,
            token_rate_limit: t.token_rate_limit,
            registration: t.registration.as_str(),
            verify_email: t.verify_email.as_str(),
            mfa: t.mfa.as_str(),
            dynamic_registration: t.dynamic_registration.as_str(),
            client_id_metadata_documents: t.client_id_metadata_documents.as_str(),
        }
    }
}

/// A client (application) as stored, without its secret's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// The `client_id` (RFC 6749 2.2): random, and unique across all tenants.
    pub client_id: String,
    /// The tenant the client belongs to.
    pub tenant_id: String,
    /// The name shown to people on the sign-in and registration pages.
    pub name: String,
    /// Whether the client is public (RFC 6749 2.1): no secret, PKCE required.
    pub public: bool,
    /// `none` for public clients.
    pub auth_method: String,
    /// `private_key_jwt`: the registered JWK Set (public keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// `private_key_jwt`: where the client publishes its JWK Set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Registered redirect URIs, compared exactly (RFC 9700 2.1).
    pub redirect_uris: Vec<String>,
    /// Where sign-out may return the browser to (OpenID Connect RP-Initiated Logout 1.0,
    /// section 3).
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types the client may use at the token endpoint.
    #[schema(value_type = Vec<GrantTypeName>)]
    pub grant_types: Vec<String>,
    /// When the client receives refresh tokens: `always`, `offline_access` (only when
    /// that scope was granted) or `never`.
    #[schema(value_type = RefreshPolicyName)]
    pub refresh_tokens: String,
    /// Seconds.
    pub id_token_ttl: i64,
    /// Seconds.
    pub access_token_ttl: i64,
    /// Seconds: the absolute lifetime of a refresh-token family, from its
    /// first issue.
    pub refresh_token_max_ttl: i64,
    /// Whether the client may use the Journeys API (JSON sign-in and registration ending
    /// in a code).
    pub journeys_api: bool,
    /// Browser origins allowed to call the token, revocation, userinfo and Journeys
    /// endpoints (CORS).
    pub web_origins: Vec<String>,
    /// The JWS algorithm of the client's id_tokens and access tokens.
    #[schema(value_type = SigningAlgName)]
    pub id_token_signed_response_alg: String,
    /// PKCE methods a public client may use.
    #[schema(value_type = PkcePolicyName)]
    pub pkce: String,
    /// When the client was registered (seconds since the Unix epoch).
    pub created_at: i64,
    /// Token-endpoint requests per second on each node (0: off); absent
    /// when the tenant's setting applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_rate_limit: Option<i64>,
    /// Whether every sign-in for this client needs a second factor.
    pub require_mfa: bool,
    /// Whether people allow what the client asks for on a consent page.
    pub third_party: bool,
    /// Where a logout token is POSTed when a session the client signed in
    /// with ends (OpenID Connect Back-Channel Logout 1.0); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether every token request must carry a DPoP proof (RFC 9449).
    pub require_dpop: bool,
    /// Whether authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
    /// Audiences the client may exchange tokens for (RFC 8693).
    pub exchange_audiences: Vec<String>,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        ClientView {
            client_id: c.id,
            tenant_id: c.tenant_id,
            name: c.name,
            public: c.public,
            auth_method: c.auth_method.as_str().into(),
            jwks: c.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            jwks_uri: c.jwks_uri,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
            refresh_tokens: c.refresh_policy.as_str().into(),
            id_token_ttl: c.id_token_ttl,
            access_token_ttl: c.access_token_ttl,
            refresh_token_max_ttl: c.refresh_token_max_ttl,
            journeys_api: c.journeys_api,
            web_origins: c.web_origins,
            id_token_signed_response_alg: c.signing_alg.as_str().into(),
            pkce: c.pkce.as_str().into(),
            created_at: c.created_at,
            backchannel_logout_uri: c.backchannel_logout_uri,
            token_rate_limit: c.token_rate_limit,
            require_mfa: c.require_mfa,
            third_party: c.third_party,
            require_dpop: c.require_dpop,
            require_par: c.require_par,
            exchange_audiences: c.exchange_audiences,
        }
    }
}

/// A new client: its settings and, for a confidential client, its secret
/// (shown this once; only its hash is stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    /// The client's settings, at the top level of the object.
    #[serde(flatten)]
    pub client: ClientView,
    /// The client secret, for a confidential client only; shown this once, so keep it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// A client's new secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientSecret {
    /// The client whose secret was rotated.
    pub client_id: String,
    /// The new secret; the previous one stopped working. Shown this once.
    pub client_secret: String,
}

/// A person (user) of one tenant, without the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The subject identifier (the `sub` claim, OpenID Connect Core 1.0 section 2):
    /// random, and never changed.
    pub sub: String,
    /// The tenant the person belongs to.
    pub tenant_id: String,
    /// The address the person signs in with, lower-cased; unique within the tenant.
    pub email: String,
    /// Whether the address is known to reach the person (the `email_verified` claim).
    pub email_verified: bool,
    /// The person's full name (the `name` claim); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the person was created (seconds since the Unix epoch).
    pub created_at: i64,
    /// A disabled person cannot sign in; disabling ended their sessions and revoked their grants.
    pub disabled: bool,
    /// The person's telephone number (the `phone_number` claim), E.164;
    /// absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the number is known to reach the person (the
    /// `phone_number_verified` claim).
    pub phone_number_verified: bool,
    /// The person's postal address (the `address` claim); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressFields>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            sub: u.sub,
            tenant_id: u.tenant_id,
            email: u.email,
            email_verified: u.email_verified,
            name: u.name,
            created_at: u.created_at,
            disabled: u.disabled,
            phone_number: u.phone_number,
            phone_number_verified: u.phone_number_verified,
            address: u.address.map(AddressFields::from),
        }
    }
}

/// One page of a list. `next` is set when more records follow: pass it as
/// `after` to read the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// The tenants of this page, in id order.
    pub items: Vec<TenantView>,
    /// The `after` value for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// One page of a list. `next` is set when more records follow: pass it as
/// `after` to read the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    /// The clients of this page, in id order.
    pub items: Vec<ClientView>,
    /// The `after` value for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// One page of a list. `next` is set when more records follow: pass it as
/// `after` to read the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// The users of this page, in `sub` order.
    pub items: Vec<UserView>,
    /// The `after` value for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// Records per page when a list request gives no `limit`.
pub const DEFAULT_PAGE: i64 = 50;
/// The largest `limit` a list request may ask for; a larger one is refused.
pub const MAX_PAGE: i64 = 200;

/// Paging of a list, by key: records come in id order.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Records per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next` value of the previous page (absent for the first page).
    pub after: Option<String>,
}

/// Paging of users, and an optional exact e-mail filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Records per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next` value of the previous page (absent for the first page).
    pub after: Option<String>,
    /// Only the user with this e-mail address (case-insensitive).
    pub email: Option<String>,
}

/// Trims a page fetched with one extra record: the records to show and the
/// cursor of the next page, if there is one.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// An API (resource server) of a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiView {
    /// Its identifier: the `audience` or `resource` clients send, and its
    /// tokens' `aud`.
    pub identifier: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// A name for people.
    pub name: String,
    /// The scopes it defines.
    pub scopes: Vec<String>,
    /// Seconds its access tokens live; absent: each client's lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    /// The algorithm of its access tokens; absent: each client's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SigningAlgName>)]
    pub signing_alg: Option<String>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: i64,
}

impl From<keygate_core::model::Api> for ApiView {
    fn from(a: keygate_core::model::Api) -> Self {
        ApiView {
            identifier: a.identifier,
            tenant_id: a.tenant_id,
            name: a.name,
            scopes: a.scopes,
            access_token_ttl: a.access_token_ttl,
            signing_alg: a.signing_alg.map(|s| s.as_str().to_string()),
            created_at: a.created_at,
        }
    }
}

/// The APIs of a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiList {
    /// Every API, in identifier order.
    pub items: Vec<ApiView>,
}

/// The scopes of one API a client may get for itself (client_credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientGrantView {
    /// The client.
    pub client_id: String,
    /// The API's identifier.
    pub api: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

impl From<keygate_core::model::ClientGrant> for ClientGrantView {
    fn from(g: keygate_core::model::ClientGrant) -> Self {
        ClientGrantView {
            client_id: g.client_id,
            api: g.api,
            scopes: g.scopes,
        }
    }
}

/// A client's grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientGrantList {
    /// Every grant of the client, in API order.
    pub items: Vec<ClientGrantView>,
}

/// What kind of second factor a [`FactorView`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FactorType {
    /// An authenticator app (TOTP, RFC 6238).
    Totp,
    /// A passkey (WebAuthn).
    Passkey,
}

/// One second factor of a person. `type` says which kind; other kinds
/// (passkeys) are added as further values with the same common fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorView {
    /// The factor's id (for `DELETE .../factors/{id}`).
    pub id: String,
    /// Which kind of factor it is.
    #[serde(rename = "type")]
    pub kind: FactorType,
    /// The name the person gave it.
    pub name: String,
    /// When it was added (seconds since the Unix epoch).
    pub created_at: i64,
    /// When it was last used (seconds since the Unix epoch; for an
    /// authenticator app, the start of the 30-second step of the last code
    /// accepted, the confirming one included); absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

/// What is left of a person's recovery codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesView {
    /// How many are unused.
    pub remaining: i64,
}

/// A person's second factors (every one, oldest first) and recovery codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorList {
    /// The confirmed factors, oldest first.
    pub items: Vec<FactorView>,
    /// Their recovery codes.
    pub recovery_codes: RecoveryCodesView,
}

/// What a person allowed a third-party client for one API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// The client.
    pub client_id: String,
    /// The API's identifier; absent for the client's own tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The scopes allowed.
    pub scopes: Vec<String>,
    /// When they were last allowed (seconds since the Unix epoch).
    pub granted_at: i64,
}

impl From<keygate_core::model::Consent> for ConsentView {
    fn from(c: keygate_core::model::Consent) -> Self {
        ConsentView {
            client_id: c.client_id,
            resource: (!c.resource.is_empty()).then_some(c.resource),
            scopes: c.scopes,
            granted_at: c.granted_at,
        }
    }
}

/// A person's consents.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    /// Every consent, by client and API.
    pub items: Vec<ConsentView>,
}

/// Where the parts of a person's profile are in an upstream's claims.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpClaimsView {
    /// The path of the upstream's stable identifier of the person.
    pub sub: String,
    /// The path of the e-mail address.
    pub email: String,
    /// The path of whether the upstream verified it (empty: never says).
    pub email_verified: String,
    /// The path of the person's name.
    pub name: String,
}

/// An upstream identity provider of a tenant, without its client secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpView {
    /// Random, never changed: named by `idp_hint` and in the callback URIs.
    pub id: String,
    /// The tenant whose sign-in page offers it.
    pub tenant: String,
    /// Shown on the button and named by `connection`.
    pub name: String,
    /// `oidc` or `oauth2`.
    #[schema(example = "oidc")]
    pub kind: &'static str,
    /// The upstream's issuer.
    pub issuer: String,
    /// Keygate's client ID at the upstream.
    pub client_id: String,
    /// Whether a client secret is stored (it is never shown).
    pub has_client_secret: bool,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The authorization endpoint (`oauth2`), or null.
    pub authorize_url: Option<String>,
    /// The token endpoint (`oauth2`), or null.
    pub token_url: Option<String>,
    /// The userinfo URL (`oauth2`), or null.
    pub userinfo_url: Option<String>,
    /// Where the profile is in the upstream's claims.
    pub claims: IdpClaimsView,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// The first of `callback_uris`: the one to register at the upstream
    /// when the tenant is reached through one front door.
    pub callback_uri: String,
    /// Where the upstream sends people back, one per front door of the
    /// tenant (its domains, the root for `default`, then its path door);
    /// each must be registered at the upstream for sign-ins that start at
    /// that door.
    pub callback_uris: Vec<String>,
}

impl IdpView {
    /// The view of `idp` of `tenant`, with its callback URIs under
    /// `public_url` (the server's public URL).
    pub fn new(
        idp: keygate_core::federation::UpstreamIdp,
        tenant: &Tenant,
        public_url: &str,
    ) -> Self {
        let callback_uris = keygate_core::federation::callback_uris(
            public_url,
            &tenant.id,
            &tenant.domains,
            &idp.id,
        );
        IdpView {
            callback_uri: callback_uris[0].clone(),
            callback_uris,
            id: idp.id,
            tenant: idp.tenant_id,
            name: idp.name,
            kind: idp.kind.as_str(),
            issuer: idp.issuer,
            client_id: idp.client_id,
            has_client_secret: idp.client_secret_sealed.is_some(),
            scopes: idp.scopes,
            authorize_url: idp.authorize_url,
            token_url: idp.token_url,
            userinfo_url: idp.userinfo_url,
            claims: IdpClaimsView {
                sub: idp.claims.sub,
                email: idp.claims.email,
                email_verified: idp.claims.email_verified,
                name: idp.claims.name,
            },
            created_at: idp.created_at,
        }
    }
}

/// The upstream identity providers of a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpList {
    /// Every upstream, in name order.
    pub idps: Vec<IdpView>,
}
