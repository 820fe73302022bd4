//! Provisioning: the one code path behind both `keygate tenant|client|user
//! create` and the admin API. Every rule about what a tenant, client or user
//! may look like lives here; the two fronts only read their input (flags or
//! JSON) into the same request types and print or answer the result.
//!
//! The checks that need no database (`tenant_from_spec`,
//! `client_from_spec`, `check_new_user`) are separate from the writes, so
//! the CLI can refuse bad arguments before it opens (or creates) a database.

use keygate_core::duration::parse_duration;
use keygate_core::model::*;
use keygate_core::redirect::{parse_origin, validate_redirect_uri};
use keygate_core::validate;
use keygate_crypto::secrets;
use keygate_store::{Store, StoreError};
use serde::Deserialize;
use utoipa::ToSchema;

/// Why a provisioning request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionError {
    /// A value is not acceptable; `field` is its name in the admin API.
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    /// The tenant, client or user does not exist.
    NotFound(String),
    /// The request contradicts what is stored (a taken id, e-mail or domain).
    Conflict(String),
    /// The store failed.
    Store(String),
}

/// Which front reports an error: field names differ (`grant_types` in JSON,
/// `--grant` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Api,
    Cli,
}

/// How the CLI names a field, and what separates the name from the message.
fn cli_flag(field: &str) -> (String, &'static str) {
    match field {
        "id" => ("tenant id".into(), " "),
        "password" => ("the password".into(), " "),
        "grant_types" => ("--grant".into(), ": "),
        "redirect_uris" => ("--redirect-uri".into(), ": "),
        "post_logout_redirect_uris" => ("--post-logout-redirect-uri".into(), ": "),
        "web_origins" => ("--web-origin".into(), ": "),
        "domains" => ("--domain".into(), ": "),
        other => (format!("--{}", other.replace('_', "-")), ": "),
    }
}

impl ProvisionError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ProvisionError::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    /// The message for people, naming the field as this front spells it.
    pub fn describe(&self, front: Front) -> String {
        match self {
            ProvisionError::Invalid {
                field: Some(f),
                message,
            } => match front {
                Front::Api => format!("{f}: {message}"),
                Front::Cli => {
                    let (flag, sep) = cli_flag(f);
                    format!("{flag}{sep}{message}")
                }
            },
            ProvisionError::Invalid {
                field: None,
                message,
            }
            | ProvisionError::NotFound(message)
            | ProvisionError::Conflict(message)
            | ProvisionError::Store(message) => message.clone(),
        }
    }
}

impl From<StoreError> for ProvisionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ProvisionError::Conflict(m),
            StoreError::NotFound => ProvisionError::NotFound("not found".into()),
            StoreError::Backend(m) => ProvisionError::Store(m),
        }
    }
}

pub type Result<T> = std::result::Result<T, ProvisionError>;

fn no_tenant(id: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("tenant '{id}' does not exist"))
}

/// The stored tenant, or `NotFound`.
pub async fn existing_tenant(store: &dyn Store, id: &str) -> Result<Tenant> {
    if !validate::is_tenant_id(id) {
        return Err(no_tenant(id));
    }
    store.get_tenant(id).await?.ok_or_else(|| no_tenant(id))
}

fn origins(raw: &[String], field: &'static str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for o in raw {
        let o = parse_origin(o).map_err(|e| ProvisionError::invalid(field, e))?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

fn name(raw: &str, field: &'static str) -> Result<String> {
    validate::normalize_name(raw).ok_or_else(|| {
        ProvisionError::invalid(
            field,
            "must be 1 to 200 characters, without control characters",
        )
    })
}

// ---------------------------------------------------------------- tenants

/// A new tenant.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// The tenant id, `[a-z0-9-]{1,63}`: its issuer is `{PUBLIC_URL}/{id}/as`.
    #[schema(pattern = "^[a-z0-9-]{1,63}$", example = "acme")]
    pub id: String,
    /// The name shown on the hosted pages (default: the id).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Origins (`https://login.acme.example`) that reach this tenant at their
    /// root, matched on the Host header; each becomes an issuer.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Token-endpoint requests per second per client and node for this
    /// tenant's clients without a setting of their own; 0 turns the limit
    /// off; absent takes the server's default (`KEYGATE_TOKEN_RATE_LIMIT`).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub token_rate_limit: Option<i64>,
}

/// Changes to a tenant; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Replaces every domain of the tenant.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// A number (0 turns the limit off), or null for the server's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    pub token_rate_limit: Option<Option<i64>>,
}

/// A field that may be sent as `null` to clear it: absent is `None`,
/// `null` is `Some(None)`.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The most token-endpoint requests per second a setting may name.
const MAX_TOKEN_RATE_LIMIT: i64 = 1_000_000;

fn token_rate_limit(v: Option<i64>) -> Result<Option<i64>> {
    match v {
        Some(n) if !(0..=MAX_TOKEN_RATE_LIMIT).contains(&n) => Err(ProvisionError::invalid(
            "token_rate_limit",
            format!("{n} is not a rate: use 0 (off) to {MAX_TOKEN_RATE_LIMIT} requests per second"),
        )),
        other => Ok(other),
    }
}

/// Checks a new tenant and builds its record (no I/O).
pub fn tenant_from_spec(spec: &NewTenant, now: i64) -> Result<Tenant> {
    if !validate::is_tenant_id(&spec.id) {
        return Err(ProvisionError::invalid(
            "id",
            format!("'{}' must match [a-z0-9-]{{1,63}}", spec.id),
        ));
    }
    let display_name = match &spec.display_name {
        Some(n) => name(n, "display_name")?,
        None => spec.id.clone(),
    };
    Ok(Tenant {
        id: spec.id.clone(),
        display_name,
        domains: origins(&spec.domains, "domains")?,
        created_at: now,
        token_rate_limit: token_rate_limit(spec.token_rate_limit)?,
    })
}

pub async fn create_tenant(store: &dyn Store, tenant: &Tenant) -> Result<()> {
    store.create_tenant(tenant).await?;
    Ok(())
}

/// Applies the changes; returns the tenant before and after.
pub async fn update_tenant(
    store: &dyn Store,
    id: &str,
    patch: &TenantPatch,
) -> Result<(Tenant, Tenant)> {
    let before = existing_tenant(store, id).await?;
    let mut after = before.clone();
    if let Some(n) = &patch.display_name {
        after.display_name = name(n, "display_name")?;
    }
    if let Some(d) = &patch.domains {
        after.domains = origins(d, "domains")?;
    }
    if let Some(r) = patch.token_rate_limit {
        after.token_rate_limit = token_rate_limit(r)?;
    }
    store.update_tenant(&after).await.map_err(|e| match e {
        StoreError::NotFound => no_tenant(id),
        other => other.into(),
    })?;
    Ok((before, after))
}

/// Deletes a tenant with everything in it; returns what was deleted. The
/// `default` tenant always exists.
pub async fn delete_tenant(store: &dyn Store, id: &str) -> Result<Tenant> {
    let tenant = existing_tenant(store, id).await?;
    if tenant.id == DEFAULT_TENANT {
        return Err(ProvisionError::Conflict(
            "the default tenant always exists and cannot be deleted".into(),
        ));
    }
    if !store.delete_tenant(id).await? {
        return Err(no_tenant(id));
    }
    Ok(tenant)
}

// ---------------------------------------------------------------- clients

/// A lifetime: whole seconds, or a DURATION like `90s`, `15m`, `24h`, `14d`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Ttl {
    Seconds(i64),
    Text(String),
}

impl Ttl {
    /// Seconds, by the same rules as the CLI's DURATION.
    pub fn seconds(&self) -> std::result::Result<i64, String> {
        match self {
            Ttl::Seconds(n) => parse_duration(&format!("{n}s")),
            Ttl::Text(s) => parse_duration(s),
        }
    }
}

// The allowed values of the fields below, for the OpenAPI document only: the
// fields themselves are strings checked here, so that both fronts refuse a
// bad value with the same message.

/// How a confidential client authenticates at the token endpoint.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum AuthMethodName {
    client_secret_basic,
    client_secret_post,
}

/// A grant type a client may use.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum GrantTypeName {
    authorization_code,
    refresh_token,
    client_credentials,
}

/// When refresh tokens are issued: always, only when `offline_access` was
/// granted, or never.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum RefreshPolicyName {
    always,
    offline_access,
    never,
}

/// Which PKCE methods a public client may use: `s256` only (the default,
/// RFC 9700), or `plain-allowed` (also `plain`, and an omitted
/// `code_challenge_method`, which RFC 7636 reads as `plain`).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum PkcePolicyName {
    s256,
    #[schema(rename = "plain-allowed")]
    plain_allowed,
}

/// The JWS algorithm of a client's id_tokens and access tokens.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum SigningAlgName {
    RS256,
    ES256,
    EdDSA,
}

/// A new client (application). Defaults: confidential with
/// `client_secret_basic`, grants `authorization_code` and `refresh_token`,
/// refresh tokens when `offline_access` is granted.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    #[schema(example = "Web app")]
    pub name: String,
    /// Registered redirect URIs, matched exactly; at least one for the
    /// `authorization_code` grant. https, http only on a loopback host
    /// (localhost, 127.0.0.1, [::1]), or a native app's reverse-domain scheme.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// A public client: no secret, PKCE required.
    #[serde(default)]
    pub public: bool,
    /// How a confidential client authenticates (default `client_secret_basic`).
    #[serde(default)]
    #[schema(value_type = Option<AuthMethodName>)]
    pub auth_method: Option<String>,
    /// Allowed grants (default `authorization_code`, `refresh_token`).
    #[serde(default)]
    #[schema(value_type = Vec<GrantTypeName>)]
    pub grant_types: Vec<String>,
    /// When refresh tokens are issued (default `offline_access`).
    #[serde(default)]
    #[schema(value_type = Option<RefreshPolicyName>)]
    pub refresh_tokens: Option<String>,
    /// Lifetime of id_tokens (default 14 days).
    #[serde(default)]
    pub id_token_ttl: Option<Ttl>,
    /// Lifetime of access tokens (default 24 hours).
    #[serde(default)]
    pub access_token_ttl: Option<Ttl>,
    /// Absolute lifetime of a refresh-token family, counted from its first
    /// issue; rotation never extends it (default 90 days).
    #[serde(default)]
    pub refresh_token_max_ttl: Option<Ttl>,
    /// May use the Journeys API (JSON sign-in and registration).
    #[serde(default)]
    pub journeys_api: bool,
    /// Browser origins allowed to call the token, revocation, userinfo and
    /// Journeys endpoints (CORS).
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// Where sign-out may return to.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Algorithm of id_tokens and access tokens (default `RS256`).
    #[serde(default)]
    #[schema(value_type = Option<SigningAlgName>)]
    pub id_token_signed_response_alg: Option<String>,
    /// PKCE methods a public client may use (default `s256`).
    #[serde(default)]
    #[schema(value_type = Option<PkcePolicyName>)]
    pub pkce: Option<String>,
    /// Token-endpoint requests per second this client may make on each
    /// node; 0 turns the limit off; absent takes the tenant's setting.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub token_rate_limit: Option<i64>,
}

/// Changes to a client; absent fields stay as they are, lists are replaced
/// whole. A client stays public or confidential; its secret changes only
/// by rotation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<AuthMethodName>)]
    pub auth_method: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<GrantTypeName>>)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<RefreshPolicyName>)]
    pub refresh_tokens: Option<String>,
    #[serde(default)]
    pub id_token_ttl: Option<Ttl>,
    #[serde(default)]
    pub access_token_ttl: Option<Ttl>,
    #[serde(default)]
    pub refresh_token_max_ttl: Option<Ttl>,
    #[serde(default)]
    pub journeys_api: Option<bool>,
    #[serde(default)]
    pub web_origins: Option<Vec<String>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<SigningAlgName>)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<PkcePolicyName>)]
    pub pkce: Option<String>,
    /// A number (0 turns the limit off), or null for the tenant's setting.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    pub token_rate_limit: Option<Option<i64>>,
}

fn parse_grants(raw: &[String]) -> Result<Vec<GrantType>> {
    if raw.is_empty() {
        return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    }
    let mut out = Vec::new();
    for g in raw
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let grant = GrantType::parse(g).ok_or_else(|| {
            ProvisionError::invalid(
                "grant_types",
                format!(
                    "unknown grant '{g}': use authorization_code, refresh_token, client_credentials"
                ),
            )
        })?;
        if !out.contains(&grant) {
            out.push(grant);
        }
    }
    if out.is_empty() {
        return Err(ProvisionError::invalid("grant_types", "names no grant"));
    }
    Ok(out)
}

fn ttl(raw: &Option<Ttl>, field: &'static str, default: i64) -> Result<i64> {
    match raw {
        None => Ok(default),
        Some(t) => t.seconds().map_err(|e| ProvisionError::invalid(field, e)),
    }
}

fn uris(raw: &[String], field: &'static str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for u in raw {
        validate_redirect_uri(u).map_err(|e| ProvisionError::invalid(field, e))?;
        if !out.contains(u) {
            out.push(u.clone());
        }
    }
    Ok(out)
}

/// Checks every setting of a client and builds its record with a fresh id
/// and secret (no I/O). The secret is returned once; only its hash is kept.
pub fn client_from_spec(
    tenant: &str,
    spec: &NewClient,
    now: i64,
) -> Result<(Client, Option<String>)> {
    if !validate::is_tenant_id(tenant) {
        return Err(no_tenant(tenant));
    }
    let name = name(&spec.name, "name")?;
    if spec.public && spec.auth_method.is_some() {
        return Err(ProvisionError::invalid(
            "auth_method",
            "public clients have no secret, so an authentication method does not apply",
        ));
    }
    let auth_method = match (spec.public, spec.auth_method.as_deref()) {
        (true, _) => AuthMethod::None,
        (false, None) => AuthMethod::ClientSecretBasic,
        (false, Some(m @ ("client_secret_basic" | "client_secret_post"))) => {
            AuthMethod::parse(m).expect("listed")
        }
        (false, Some(m)) => {
            return Err(ProvisionError::invalid(
                "auth_method",
                format!("'{m}' is not supported: use client_secret_basic or client_secret_post"),
            ))
        }
    };
    let grant_types = parse_grants(&spec.grant_types)?;
    if spec.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(ProvisionError::invalid(
            "grant_types",
            "public clients cannot use client_credentials",
        ));
    }
    let redirect_uris = uris(&spec.redirect_uris, "redirect_uris")?;
    let post_logout_redirect_uris =
        uris(&spec.post_logout_redirect_uris, "post_logout_redirect_uris")?;
    if redirect_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(ProvisionError::invalid(
            "redirect_uris",
            "at least one redirect URI is needed for the authorization_code grant",
        ));
    }
    let refresh_policy = match &spec.refresh_tokens {
        None => RefreshPolicy::OfflineAccess,
        Some(p) => RefreshPolicy::parse(p).ok_or_else(|| {
            ProvisionError::invalid(
                "refresh_tokens",
                format!("'{p}': use always, offline_access or never"),
            )
        })?,
    };
    let signing_alg = match &spec.id_token_signed_response_alg {
        None => SigningAlg::RS256,
        Some(s) => SigningAlg::parse(s).ok_or_else(|| {
            ProvisionError::invalid(
                "id_token_signed_response_alg",
                format!("'{s}': use RS256, ES256 or EdDSA"),
            )
        })?,
    };
    let pkce = match &spec.pkce {
        None => PkcePolicy::S256,
        Some(p) => PkcePolicy::parse(p).ok_or_else(|| {
            ProvisionError::invalid("pkce", format!("'{p}': use s256 or plain-allowed"))
        })?,
    };
    let secret = (!spec.public).then(secrets::new_secret);
    let client = Client {
        id: secrets::random_token(18),
        tenant_id: tenant.to_string(),
        name,
        public: spec.public,
        secret_hash: secret.as_deref().map(secrets::sha256_hex),
        auth_method,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        refresh_policy,
        id_token_ttl: ttl(&spec.id_token_ttl, "id_token_ttl", DEFAULT_ID_TOKEN_TTL)?,
        access_token_ttl: ttl(
            &spec.access_token_ttl,
            "access_token_ttl",
            DEFAULT_ACCESS_TOKEN_TTL,
        )?,
        refresh_token_max_ttl: ttl(
            &spec.refresh_token_max_ttl,
            "refresh_token_max_ttl",
            DEFAULT_REFRESH_TOKEN_MAX_TTL,
        )?,
        journeys_api: spec.journeys_api,
        web_origins: origins(&spec.web_origins, "web_origins")?,
        signing_alg,
        pkce,
        created_at: now,
        token_rate_limit: token_rate_limit(spec.token_rate_limit)?,
    };
    Ok((client, secret))
}

/// Stores a client built by [`client_from_spec`] if its tenant exists.
pub async fn create_client(store: &dyn Store, client: &Client) -> Result<()> {
    existing_tenant(store, &client.tenant_id).await?;
    store.create_client(client).await?;
    Ok(())
}

/// The request that would create this client as it is now.
fn spec_of(c: &Client) -> NewClient {
    NewClient {
        name: c.name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        public: c.public,
        auth_method: (!c.public).then(|| c.auth_method.as_str().to_string()),
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_string())
            .collect(),
        refresh_tokens: Some(c.refresh_policy.as_str().to_string()),
        id_token_ttl: Some(Ttl::Seconds(c.id_token_ttl)),
        access_token_ttl: Some(Ttl::Seconds(c.access_token_ttl)),
        refresh_token_max_ttl: Some(Ttl::Seconds(c.refresh_token_max_ttl)),
        journeys_api: c.journeys_api,
        web_origins: c.web_origins.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        id_token_signed_response_alg: Some(c.signing_alg.as_str().to_string()),
        pkce: Some(c.pkce.as_str().to_string()),
        token_rate_limit: c.token_rate_limit,
    }
}

/// The client with the changes applied, checked by exactly the rules of a
/// new client (no I/O). Id, tenant, kind, secret and creation time stay.
pub fn apply_client_patch(c: &Client, patch: &ClientPatch) -> Result<Client> {
    let mut spec = spec_of(c);
    let p = patch.clone();
    if let Some(v) = p.name {
        spec.name = v;
    }
    if let Some(v) = p.redirect_uris {
        spec.redirect_uris = v;
    }
    if let Some(v) = p.auth_method {
        spec.auth_method = Some(v);
    }
    if let Some(v) = p.grant_types {
        if v.is_empty() {
            return Err(ProvisionError::invalid("grant_types", "names no grant"));
        }
        spec.grant_types = v;
    }
    if let Some(v) = p.refresh_tokens {
        spec.refresh_tokens = Some(v);
    }
    if let Some(v) = p.id_token_ttl {
        spec.id_token_ttl = Some(v);
    }
    if let Some(v) = p.access_token_ttl {
        spec.access_token_ttl = Some(v);
    }
    if let Some(v) = p.refresh_token_max_ttl {
        spec.refresh_token_max_ttl = Some(v);
    }
    if let Some(v) = p.journeys_api {
        spec.journeys_api = v;
    }
    if let Some(v) = p.web_origins {
        spec.web_origins = v;
    }
    if let Some(v) = p.post_logout_redirect_uris {
        spec.post_logout_redirect_uris = v;
    }
    if let Some(v) = p.id_token_signed_response_alg {
        spec.id_token_signed_response_alg = Some(v);
    }
    if let Some(v) = p.pkce {
        spec.pkce = Some(v);
    }
    if let Some(v) = p.token_rate_limit {
        spec.token_rate_limit = v;
    }
    let (checked, _) = client_from_spec(&c.tenant_id, &spec, c.created_at)?;
    Ok(Client {
        id: c.id.clone(),
        tenant_id: c.tenant_id.clone(),
        public: c.public,
        secret_hash: c.secret_hash.clone(),
        created_at: c.created_at,
        ..checked
    })
}

fn no_client(id: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("client '{id}' does not exist"))
}

/// The stored client, or `NotFound` (also when its tenant does not exist).
pub async fn existing_client(store: &dyn Store, tenant: &str, id: &str) -> Result<Client> {
    existing_tenant(store, tenant).await?;
    store
        .get_client(tenant, id)
        .await?
        .ok_or_else(|| no_client(id))
}

pub async fn update_client(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    patch: &ClientPatch,
) -> Result<Client> {
    let current = existing_client(store, tenant, id).await?;
    let next = apply_client_patch(&current, patch)?;
    store.update_client(&next).await.map_err(|e| match e {
        StoreError::NotFound => no_client(id),
        other => other.into(),
    })?;
    Ok(next)
}

/// Gives a confidential client a new secret (returned once); the old one
/// stops working at once.
pub async fn rotate_client_secret(store: &dyn Store, tenant: &str, id: &str) -> Result<String> {
    let client = existing_client(store, tenant, id).await?;
    if client.public {
        return Err(ProvisionError::Conflict(
            "a public client has no secret to rotate".into(),
        ));
    }
    let secret = secrets::new_secret();
    store
        .set_client_secret(tenant, id, &secrets::sha256_hex(&secret))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_client(id),
            other => other.into(),
        })?;
    Ok(secret)
}

/// Deletes a client and revokes its grants (its tokens stop working).
pub async fn delete_client(store: &dyn Store, tenant: &str, id: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_client(tenant, id, crate::now()).await? {
        return Err(no_client(id));
    }
    Ok(())
}

// ---------------------------------------------------------------- users

/// A new user.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Stored lower-cased; unique in the tenant.
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// At least 8 characters.
    #[schema(format = Password)]
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(format = Password)]
    pub password: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// A disabled person cannot sign in; disabling ends their sessions.
    #[serde(default)]
    pub disabled: Option<bool>,
}

fn email(raw: &str) -> Result<String> {
    validate::normalize_email(raw).ok_or_else(|| {
        ProvisionError::invalid("email", format!("'{raw}' is not a valid e-mail address"))
    })
}

fn check_password(pw: &str) -> Result<()> {
    match validate::check_password(pw) {
        Err(validate::PasswordProblem::TooShort) => Err(ProvisionError::invalid(
            "password",
            format!("must be at least {} characters", validate::MIN_PASSWORD_LEN),
        )),
        Err(validate::PasswordProblem::TooLong) => Err(ProvisionError::invalid(
            "password",
            format!("must be at most {} bytes", validate::MAX_PASSWORD_LEN),
        )),
        Ok(()) => Ok(()),
    }
}

/// Checks a new user's fields; returns them normalized (no I/O).
pub fn check_new_user(spec: &NewUser) -> Result<NewUser> {
    let email = email(&spec.email)?;
    check_password(&spec.password)?;
    let name = spec.name.as_deref().map(|n| name(n, "name")).transpose()?;
    Ok(NewUser {
        email,
        password: spec.password.clone(),
        name,
        email_verified: spec.email_verified,
    })
}

async fn hash_password(pw: &str) -> Result<String> {
    let pw = pw.to_string();
    crate::cpu::run_password(move || keygate_crypto::password::hash_password(&pw))
        .await
        .map_err(|e| ProvisionError::Store(format!("{e:?}")))
}

fn email_taken(email: &str, tenant: &str) -> ProvisionError {
    ProvisionError::Conflict(format!(
        "the e-mail '{email}' is already registered in tenant '{tenant}'"
    ))
}

/// Creates a user after checking every field; returns the record.
pub async fn create_user(store: &dyn Store, tenant: &str, spec: &NewUser) -> Result<User> {
    let spec = check_new_user(spec)?;
    existing_tenant(store, tenant).await?;
    if store.user_by_email(tenant, &spec.email).await?.is_some() {
        return Err(email_taken(&spec.email, tenant));
    }
    let user = User {
        sub: secrets::new_id(),
        tenant_id: tenant.to_string(),
        email: spec.email,
        email_verified: spec.email_verified,
        name: spec.name,
        password_hash: hash_password(&spec.password).await?,
        created_at: crate::now(),
        disabled: false,
    };
    store.create_user(&user).await.map_err(|e| match e {
        StoreError::Conflict(_) => email_taken(&user.email, tenant),
        other => other.into(),
    })?;
    Ok(user)
}

/// The user of the tenant with this e-mail address, compared as stored
/// (normalized); `None` also for a string that is no e-mail address.
pub async fn user_by_email(store: &dyn Store, tenant: &str, raw: &str) -> Result<Option<User>> {
    existing_tenant(store, tenant).await?;
    match validate::normalize_email(raw) {
        Some(e) => Ok(store.user_by_email(tenant, &e).await?),
        None => Ok(None),
    }
}

fn no_user(sub: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("user '{sub}' does not exist"))
}

pub async fn existing_user(store: &dyn Store, tenant: &str, sub: &str) -> Result<User> {
    existing_tenant(store, tenant).await?;
    store
        .get_user(tenant, sub)
        .await?
        .ok_or_else(|| no_user(sub))
}

pub async fn update_user(
    store: &dyn Store,
    tenant: &str,
    sub: &str,
    patch: &UserPatch,
) -> Result<User> {
    let mut user = existing_user(store, tenant, sub).await?;
    let before = user.clone();
    if let Some(e) = &patch.email {
        user.email = email(e)?;
    }
    if let Some(n) = &patch.name {
        user.name = Some(name(n, "name")?);
    }
    if let Some(v) = patch.email_verified {
        user.email_verified = v;
    }
    if let Some(pw) = &patch.password {
        check_password(pw)?;
        user.password_hash = hash_password(pw).await?;
    }
    if let Some(d) = patch.disabled {
        user.disabled = d;
    }
    // A new password or e-mail address, or disabling, ends every session
    // and revokes every grant of the person in the same transaction: whoever
    // held the old credentials must not keep a way in.
    let ends = user.email != before.email
        || patch.password.is_some()
        || (user.disabled && !before.disabled);
    let end_sessions_at = ends.then(crate::now);
    store
        .update_user(&user, end_sessions_at)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_user(sub),
            StoreError::Conflict(_) => email_taken(&user.email, tenant),
            other => other.into(),
        })?;
    Ok(user)
}

/// Deletes a user, ends their sessions and revokes their grants.
pub async fn delete_user(store: &dyn Store, tenant: &str, sub: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_user(tenant, sub, crate::now()).await? {
        return Err(no_user(sub));
    }
    Ok(())
}

// ---------------------------------------------------------------- admin tokens

/// Creates an admin API token; returns its id and the token (shown once;
/// only its SHA-256 is stored).
pub async fn create_admin_token(store: &dyn Store) -> Result<(String, String)> {
    let token = secrets::new_secret();
    let record = keygate_store::AdminToken {
        id: secrets::random_token(9),
        created_at: crate::now(),
    };
    store
        .create_admin_token(&record, &secrets::sha256_hex(&token))
        .await?;
    Ok((record.id, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(spec: NewClient) -> Result<Client> {
        client_from_spec("acme", &spec, 1).map(|(c, _)| c)
    }

    #[test]
    fn client_defaults_and_rules() {
        let (c, secret) = client_from_spec(
            "acme",
            &NewClient {
                name: " Web ".into(),
                redirect_uris: vec!["https://a.test/cb".into(), "https://a.test/cb".into()],
                ..Default::default()
            },
            7,
        )
        .unwrap();
        assert_eq!(c.name, "Web");
        assert_eq!(c.redirect_uris, vec!["https://a.test/cb"]);
        assert_eq!(c.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(
            c.secret_hash.as_deref(),
            Some(secrets::sha256_hex(&secret.unwrap()).as_str())
        );
        let e = client(NewClient {
            name: "A".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.describe(Front::Cli),
            "--redirect-uri: at least one redirect URI is needed for the authorization_code grant"
        );
        let e = client(NewClient {
            name: "A".into(),
            redirect_uris: vec!["https://a.test/cb".into()],
            grant_types: vec!["password".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e
            .describe(Front::Api)
            .starts_with("grant_types: unknown grant"));
        assert!(e.describe(Front::Cli).starts_with("--grant: unknown grant"));
        let ok = client(NewClient {
            name: "A".into(),
            redirect_uris: vec!["https://a.test/cb".into()],
            id_token_ttl: Some(Ttl::Seconds(90)),
            access_token_ttl: Some(Ttl::Text("15m".into())),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((ok.id_token_ttl, ok.access_token_ttl), (90, 900));
        for bad in [Ttl::Seconds(0), Ttl::Seconds(-5), Ttl::Text("10x".into())] {
            assert!(client(NewClient {
                name: "A".into(),
                redirect_uris: vec!["https://a.test/cb".into()],
                id_token_ttl: Some(bad.clone()),
                ..Default::default()
            })
            .is_err());
        }
    }

    #[test]
    fn patch_keeps_identity_and_applies_the_same_rules() {
        let (c, _) = client_from_spec(
            "acme",
            &NewClient {
                name: "Web".into(),
                redirect_uris: vec!["https://a.test/cb".into()],
                ..Default::default()
            },
            7,
        )
        .unwrap();
        let p = apply_client_patch(
            &c,
            &ClientPatch {
                redirect_uris: Some(vec!["https://a.test/cb".into(), "https://b.test/cb".into()]),
                journeys_api: Some(true),
                web_origins: Some(vec!["https://b.test".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (&p.id, &p.secret_hash, p.created_at),
            (&c.id, &c.secret_hash, c.created_at)
        );
        assert_eq!(p.redirect_uris.len(), 2);
        assert!(p.journeys_api);
        assert_eq!(p.web_origins, vec!["https://b.test"]);
        // An empty patch changes nothing.
        assert_eq!(apply_client_patch(&c, &ClientPatch::default()).unwrap(), c);
        assert!(apply_client_patch(
            &c,
            &ClientPatch {
                redirect_uris: Some(vec!["https://a.test/cb#x".into()]),
                ..Default::default()
            }
        )
        .is_err());
        assert!(apply_client_patch(
            &c,
            &ClientPatch {
                redirect_uris: Some(vec![]),
                ..Default::default()
            }
        )
        .is_err());
    }

    #[test]
    fn tenants_and_users() {
        let t = tenant_from_spec(
            &NewTenant {
                id: "acme".into(),
                domains: vec!["https://LOGIN.acme.test".into()],
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!(t.display_name, "acme");
        assert_eq!(t.domains, vec!["https://login.acme.test"]);
        let e = tenant_from_spec(
            &NewTenant {
                id: "Bad_Id".into(),
                ..Default::default()
            },
            1,
        )
        .unwrap_err();
        assert_eq!(
            e.describe(Front::Cli),
            "tenant id 'Bad_Id' must match [a-z0-9-]{1,63}"
        );
        let u = check_new_user(&NewUser {
            email: " Ann@Example.com".into(),
            password: "long enough".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(u.email, "ann@example.com");
        assert!(check_new_user(&NewUser {
            email: "ann@example.com".into(),
            password: "short".into(),
            ..Default::default()
        })
        .unwrap_err()
        .describe(Front::Cli)
        .contains("at least 8"));
    }
}
