//! Clients: the settings of a new client and of a change, checked by one set of rules, and their storage.

use super::*;

/// A lifetime: whole seconds, or a DURATION like `90s`, `15m`, `24h`, `14d`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Ttl {
    /// A number of seconds, such as `86400`.
    Seconds(i64),
    /// A DURATION such as `90s`, `15m`, `24h` or `14d`.
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
    /// The secret in an HTTP Basic `Authorization` header (RFC 6749 2.3.1).
    client_secret_basic,
    /// The secret as the `client_secret` form parameter (RFC 6749 2.3.1).
    client_secret_post,
    /// A JWT signed with one of the client's keys (`jwks` or `jwks_uri`;
    /// RFC 7523, docs/client-auth.md); the client has no secret.
    private_key_jwt,
    /// A JWT with an HMAC under the client's secret (OpenID Connect Core 9;
    /// docs/client-auth.md); the secret is also kept sealed.
    client_secret_jwt,
}

/// A grant type a client may use.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum GrantTypeName {
    /// A code from /authorize exchanged for tokens (RFC 6749 4.1).
    authorization_code,
    /// A refresh token exchanged for new tokens (RFC 6749 6).
    refresh_token,
    /// A confidential client acting for itself, with no person (RFC 6749 4.4).
    client_credentials,
    /// A confidential client exchanging an access token for one for another
    /// audience (RFC 8693); see `exchange_audiences`.
    #[schema(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    token_exchange,
}

/// When refresh tokens are issued: always, only when `offline_access` was
/// granted, or never.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum RefreshPolicyName {
    /// With every code or refresh-token exchange, if the client may use the
    /// `refresh_token` grant.
    always,
    /// Only when the grant's scope holds `offline_access` (OpenID Connect Core 1.0 section 11).
    offline_access,
    /// Never: the client signs the person in again when its tokens expire.
    never,
}

/// Which PKCE methods a public client may use: `s256` only (the default,
/// RFC 9700), or `plain-allowed` (also `plain`, and an omitted
/// `code_challenge_method`, which RFC 7636 reads as `plain`).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum PkcePolicyName {
    /// Only `S256` (RFC 7636 4.2; RFC 9700 2.1.1).
    s256,
    /// `S256` or `plain`; an omitted `code_challenge_method` counts as `plain`.
    #[schema(rename = "plain-allowed")]
    plain_allowed,
}

/// The JWS algorithm of a client's id_tokens and access tokens.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum SigningAlgName {
    /// RSASSA-PKCS1-v1_5 with SHA-256 on an RSA-2048 key (RFC 7518 3.3).
    RS256,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 3.4).
    ES256,
    /// Ed25519 (RFC 8037 3.1).
    EdDSA,
}

/// A new client (application). Defaults: confidential with
/// `client_secret_basic`, grants `authorization_code` and `refresh_token`,
/// refresh tokens when `offline_access` is granted.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The name shown to people on the sign-in and registration pages.
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
    /// `private_key_jwt`: the client's JWK Set (RFC 7517 5), public
    /// signature keys only (RS256, ES256, EdDSA). Not with `jwks_uri`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// `private_key_jwt`: where the client publishes its JWK Set (https).
    /// Not with `jwks`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
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
    /// Every sign-in for this client needs a second factor (as if each
    /// request sent `acr_values=mfa`).
    #[serde(default)]
    pub require_mfa: bool,
    /// Someone else's application: people allow what it asks for on a
    /// consent page. It cannot use the Journeys API (which hands it the
    /// password).
    #[serde(default)]
    pub third_party: bool,
    /// Where a logout token is POSTed when a session this client signed in
    /// with ends (OpenID Connect Back-Channel Logout 1.0, docs/logout.md):
    /// https, or http on a loopback host; no fragment.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449; docs/dpop.md).
    #[serde(default)]
    pub require_dpop: bool,
    /// Authorization requests must be pushed first (RFC 9126,
    /// `require_pushed_authorization_requests`).
    #[serde(default)]
    pub require_par: bool,
    /// Audiences (or `resource`s) the client may exchange tokens for
    /// (RFC 8693; docs/token-exchange.md): absolute URIs without a
    /// fragment, matched exactly.
    #[serde(default)]
    pub exchange_audiences: Vec<String>,
}

/// Changes to a client; absent fields stay as they are, lists are replaced
/// whole. A client stays public or confidential; its secret changes only
/// by rotation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    /// The name shown to people on the sign-in and registration pages.
    #[serde(default)]
    pub name: Option<String>,
    /// Registered redirect URIs, matched exactly; replaces the whole list.
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    /// How a confidential client authenticates; refused for a public
    /// client. A client cannot switch to `client_secret_jwt` (its secret
    /// is kept only as a hash); switching to another method forgets its keys.
    #[serde(default)]
    #[schema(value_type = Option<AuthMethodName>)]
    pub auth_method: Option<String>,
    /// `private_key_jwt`: a new JWK Set; forgets the `jwks_uri`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// `private_key_jwt`: a new `jwks_uri`; forgets the registered set.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Allowed grants; replaces the whole list.
    #[serde(default)]
    #[schema(value_type = Option<Vec<GrantTypeName>>)]
    pub grant_types: Option<Vec<String>>,
    /// When refresh tokens are issued.
    #[serde(default)]
    #[schema(value_type = Option<RefreshPolicyName>)]
    pub refresh_tokens: Option<String>,
    /// Lifetime of id_tokens.
    #[serde(default)]
    pub id_token_ttl: Option<Ttl>,
    /// Lifetime of access tokens.
    #[serde(default)]
    pub access_token_ttl: Option<Ttl>,
    /// Absolute lifetime of a refresh-token family, counted from its first issue.
    #[serde(default)]
    pub refresh_token_max_ttl: Option<Ttl>,
    /// Whether the client may use the Journeys API.
    #[serde(default)]
    pub journeys_api: Option<bool>,
    /// Whether every sign-in for this client needs a second factor.
    #[serde(default)]
    pub require_mfa: Option<bool>,
    /// Whether people allow what the client asks for on a consent page.
    #[serde(default)]
    pub third_party: Option<bool>,
    /// Whether every token request must carry a DPoP proof (RFC 9449).
    #[serde(default)]
    pub require_dpop: Option<bool>,
    /// Whether authorization requests must be pushed first (RFC 9126).
    #[serde(default)]
    pub require_par: Option<bool>,
    /// Browser origins allowed to call the token, revocation, userinfo and Journeys
    /// endpoints (CORS); replaces the whole list.
    #[serde(default)]
    pub web_origins: Option<Vec<String>>,
    /// Where sign-out may return to; replaces the whole list.
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Algorithm of id_tokens and access tokens.
    #[serde(default)]
    #[schema(value_type = Option<SigningAlgName>)]
    pub id_token_signed_response_alg: Option<String>,
    /// PKCE methods a public client may use.
    #[serde(default)]
    #[schema(value_type = Option<PkcePolicyName>)]
    pub pkce: Option<String>,
    /// A number (0 turns the limit off), or null for the tenant's setting.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    pub token_rate_limit: Option<Option<i64>>,
    /// The back-channel logout URI (docs/logout.md), or null to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
    /// Audiences the client may exchange tokens for; replaces the whole list.
    #[serde(default)]
    pub exchange_audiences: Option<Vec<String>>,
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
                    "unknown grant '{g}': use {}",
                    GrantType::ALL.map(GrantType::as_str).join(", ")
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

/// The most exchange audiences a client may have.
const MAX_EXCHANGE_AUDIENCES: usize = 50;

/// Exchange audiences: absolute URIs without a fragment (RFC 8707 2, as
/// `audience` and `resource` are read at the token endpoint), each once.
fn exchange_audiences(raw: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for a in raw {
        if !keygate_core::resource::is_identifier(a) {
            return Err(ProvisionError::invalid(
                "exchange_audiences",
                format!(
                    "'{}' is not an absolute URI without a fragment (at most {} characters)",
                    a.chars().take(100).collect::<String>(),
                    keygate_core::resource::MAX_IDENTIFIER_LEN
                ),
            ));
        }
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    if out.len() > MAX_EXCHANGE_AUDIENCES {
        return Err(ProvisionError::invalid(
            "exchange_audiences",
            format!("at most {MAX_EXCHANGE_AUDIENCES} audiences"),
        ));
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

/// A back-channel logout URI offered for registration, checked
/// (Back-Channel Logout 2.2; [`keygate_core::logout::validate_backchannel_logout_uri`]).
fn backchannel_logout_uri(raw: &Option<String>) -> Result<Option<String>> {
    let Some(uri) = raw else {
        return Ok(None);
    };
    keygate_core::logout::validate_backchannel_logout_uri(uri)
        .map_err(|e| ProvisionError::invalid("backchannel_logout_uri", e))?;
    Ok(Some(uri.clone()))
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
        (
            false,
            Some(
                m @ ("client_secret_basic" | "client_secret_post" | "private_key_jwt"
                | "client_secret_jwt"),
            ),
        ) => AuthMethod::parse(m).expect("listed"),
        (false, Some(m)) => {
            return Err(ProvisionError::invalid(
                "auth_method",
                format!("'{m}' is not supported: use client_secret_basic, client_secret_post, private_key_jwt or client_secret_jwt"),
            ))
        }
    };
    let (jwks, jwks_uri) =
        super::client_keys::keys_for(auth_method, spec.jwks.as_ref(), spec.jwks_uri.as_deref())?;
    let grant_types = parse_grants(&spec.grant_types)?;
    if spec.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(ProvisionError::invalid(
            "grant_types",
            "public clients cannot use client_credentials",
        ));
    }
    // RFC 8693 exchanges rest on the client's authentication: a public
    // client could exchange any token it picked up.
    if spec.public && grant_types.contains(&GrantType::TokenExchange) {
        return Err(ProvisionError::invalid(
            "grant_types",
            "public clients cannot use token exchange (urn:ietf:params:oauth:grant-type:token-exchange)",
        ));
    }
    let exchange_audiences = exchange_audiences(&spec.exchange_audiences)?;
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
    if spec.third_party && spec.journeys_api {
        return Err(ProvisionError::invalid(
            "journeys_api",
            "a third-party client cannot use the Journeys API: it would be handed people's passwords",
        ));
    }
    let secret = super::client_keys::new_secret_for(auth_method);
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
        require_mfa: spec.require_mfa,
        third_party: spec.third_party,
        registration_token_hash: None,
        first_used_at: None,
        jwks,
        jwks_uri,
        // Sealed by `new_client`, which holds the master key.
        secret_sealed: None,
        require_dpop: spec.require_dpop,
        require_par: spec.require_par,
        exchange_audiences,
        backchannel_logout_uri: backchannel_logout_uri(&spec.backchannel_logout_uri)?,
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
        jwks: c.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
        jwks_uri: c.jwks_uri.clone(),
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
        require_mfa: c.require_mfa,
        third_party: c.third_party,
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        require_dpop: c.require_dpop,
        require_par: c.require_par,
        exchange_audiences: c.exchange_audiences.clone(),
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
        if v == AuthMethod::ClientSecretJwt.as_str() && c.auth_method != AuthMethod::ClientSecretJwt
        {
            return Err(ProvisionError::invalid(
                "auth_method",
                "a client cannot switch to client_secret_jwt: its secret is kept only as a hash, \
                 and the HMAC needs the secret itself; create a client with client_secret_jwt instead",
            ));
        }
        if v != AuthMethod::PrivateKeyJwt.as_str() {
            spec.jwks = None;
            spec.jwks_uri = None;
        }
        spec.auth_method = Some(v);
    }
    match (p.jwks, p.jwks_uri) {
        (None, None) => {}
        (jwks, jwks_uri) => {
            spec.jwks = jwks;
            spec.jwks_uri = jwks_uri;
        }
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
    if let Some(v) = p.require_mfa {
        spec.require_mfa = v;
    }
    if let Some(v) = p.require_par {
        spec.require_par = v;
    }
    if let Some(v) = p.third_party {
        spec.third_party = v;
    }
    if let Some(v) = p.require_dpop {
        spec.require_dpop = v;
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
    if let Some(v) = p.backchannel_logout_uri {
        spec.backchannel_logout_uri = v;
    }
    if let Some(v) = p.exchange_audiences {
        spec.exchange_audiences = v;
    }
    let (checked, _) = client_from_spec(&c.tenant_id, &spec, c.created_at)?;
    Ok(Client {
        id: c.id.clone(),
        tenant_id: c.tenant_id.clone(),
        public: c.public,
        secret_hash: c.secret_hash.clone(),
        created_at: c.created_at,
        registration_token_hash: c.registration_token_hash.clone(),
        first_used_at: c.first_used_at,
        // Kept only while the client stays client_secret_jwt.
        secret_sealed: c
            .secret_sealed
            .clone()
            .filter(|_| checked.auth_method == AuthMethod::ClientSecretJwt),
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

/// Applies the changes to a stored client and returns it as now stored.
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
/// stops working at once. A `client_secret_jwt` client's new secret is
/// sealed again under `master` (docs/client-auth.md); a `private_key_jwt`
/// client has no secret.
pub async fn rotate_client_secret(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    master: &keygate_crypto::sealing::MasterKey,
) -> Result<String> {
    let client = existing_client(store, tenant, id).await?;
    if client.public {
        return Err(ProvisionError::Conflict(
            "a public client has no secret to rotate".into(),
        ));
    }
    let Some(secret) = super::client_keys::new_secret_for(client.auth_method) else {
        return Err(ProvisionError::Conflict(
            "a private_key_jwt client has no secret: it authenticates with its keys".into(),
        ));
    };
    let not_found = |e| match e {
        StoreError::NotFound => no_client(id),
        other => other.into(),
    };
    store
        .set_client_secret(tenant, id, &secrets::sha256_hex(&secret))
        .await
        .map_err(not_found)?;
    // The hash first: should sealing fail, the client keeps authenticating
    // with its old secret's HMAC, and the new secret was never shown.
    if let Some(sealed) = super::client_keys::sealed_secret(master, &client, &secret) {
        let resealed = Client {
            secret_sealed: Some(sealed),
            ..client
        };
        store.update_client(&resealed).await.map_err(not_found)?;
    }
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
