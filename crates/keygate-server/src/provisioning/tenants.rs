//! Tenants: checked specs, creation, changes, deletion.

use super::*;

/// Whether people may register themselves on the hosted pages and the
/// Journeys API (docs/cli.md `--registration`).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum RegistrationName {
    /// Anyone may register (the default).
    open,
    /// Only administrators (CLI and admin API) create users.
    closed,
}

/// Whether people must verify their e-mail address (docs/cli.md
/// `--verify-email`).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum VerifyEmailName {
    /// No verification message is sent.
    off,
    /// A verification message is sent at registration; signing in does not wait for it
    /// (the default).
    optional,
    /// Signing in needs a verified address.
    required,
}

/// Whether people use a second factor (docs/cli.md `--mfa`).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum MfaPolicyName {
    /// No second factor is offered.
    off,
    /// Each person may enrol a second factor (the default).
    optional,
    /// Every person must enrol and use a second factor.
    required,
}

/// Whether clients may register themselves (docs/apis.md).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum DynamicRegistrationName {
    /// No registration endpoint (the default).
    off,
    /// Anyone may register a client.
    open,
    /// Registering needs an initial access token.
    token,
}

/// Whether an https `client_id` is a Client ID Metadata Document.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum MetadataDocumentsName {
    /// Only registered clients (the default).
    off,
    /// https client ids are fetched and used.
    on,
}

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
    /// `open` (the default): people may register on the hosted pages and
    /// the Journeys API; `closed`: only administrators create users.
    #[serde(default)]
    #[schema(value_type = Option<RegistrationName>)]
    pub registration: Option<String>,
    /// `off`, `optional` (the default) or `required`: whether people must
    /// verify their e-mail address before they can sign in.
    #[serde(default)]
    #[schema(value_type = Option<VerifyEmailName>)]
    pub verify_email: Option<String>,
    /// `off`, `optional` (the default) or `required`: whether people use a
    /// second factor.
    #[serde(default)]
    #[schema(value_type = Option<MfaPolicyName>)]
    pub mfa: Option<String>,
    /// `off` (the default), `open` or `token`: whether clients may
    /// register themselves (RFC 7591).
    #[serde(default)]
    #[schema(value_type = Option<DynamicRegistrationName>)]
    pub dynamic_registration: Option<String>,
    /// `off` (the default) or `on`: whether an https `client_id` is a
    /// Client ID Metadata Document.
    #[serde(default)]
    #[schema(value_type = Option<MetadataDocumentsName>)]
    pub client_id_metadata_documents: Option<String>,
}

/// Changes to a tenant; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// The name shown on the hosted pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Replaces every domain of the tenant.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// A number (0 turns the limit off), or null for the server's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    pub token_rate_limit: Option<Option<i64>>,
    /// `open` or `closed`: whether people may register themselves.
    #[serde(default)]
    #[schema(value_type = Option<RegistrationName>)]
    pub registration: Option<String>,
    /// `off`, `optional` or `required`: whether people must verify their e-mail address
    /// before they can sign in.
    #[serde(default)]
    #[schema(value_type = Option<VerifyEmailName>)]
    pub verify_email: Option<String>,
    /// `off`, `optional` or `required`: whether people use a second factor.
    #[serde(default)]
    #[schema(value_type = Option<MfaPolicyName>)]
    pub mfa: Option<String>,
    /// `off`, `open` or `token`: whether clients may register themselves.
    #[serde(default)]
    #[schema(value_type = Option<DynamicRegistrationName>)]
    pub dynamic_registration: Option<String>,
    /// `off` or `on`: whether an https `client_id` is a Client ID Metadata Document.
    #[serde(default)]
    #[schema(value_type = Option<MetadataDocumentsName>)]
    pub client_id_metadata_documents: Option<String>,
}

/// Reads one of a tenant's settings; an unknown value names the field and
/// the values it takes.
fn setting<T>(
    raw: &str,
    field: &'static str,
    parse: fn(&str) -> Option<T>,
    choices: &str,
) -> Result<T> {
    parse(raw).ok_or_else(|| {
        let choices = choices.replace('|', ", ");
        ProvisionError::invalid(field, format!("'{raw}' is not one of {choices}"))
    })
}

fn registration(raw: &str) -> Result<Registration> {
    setting(
        raw,
        "registration",
        Registration::parse,
        Registration::CHOICES,
    )
}

fn verify_email(raw: &str) -> Result<VerifyEmail> {
    setting(
        raw,
        "verify_email",
        VerifyEmail::parse,
        VerifyEmail::CHOICES,
    )
}

fn mfa(raw: &str) -> Result<MfaPolicy> {
    setting(raw, "mfa", MfaPolicy::parse, MfaPolicy::CHOICES)
}

fn dynamic_registration(raw: &str) -> Result<DynamicRegistration> {
    setting(
        raw,
        "dynamic_registration",
        DynamicRegistration::parse,
        DynamicRegistration::CHOICES,
    )
}

fn metadata_documents(raw: &str) -> Result<MetadataDocuments> {
    setting(
        raw,
        "client_id_metadata_documents",
        MetadataDocuments::parse,
        MetadataDocuments::CHOICES,
    )
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
        registration: spec
            .registration
            .as_deref()
            .map(registration)
            .transpose()?
            .unwrap_or_default(),
        verify_email: spec
            .verify_email
            .as_deref()
            .map(verify_email)
            .transpose()?
            .unwrap_or_default(),
        mfa: spec
            .mfa
            .as_deref()
            .map(mfa)
            .transpose()?
            .unwrap_or_default(),
        dynamic_registration: spec
            .dynamic_registration
            .as_deref()
            .map(dynamic_registration)
            .transpose()?
            .unwrap_or_default(),
        client_id_metadata_documents: spec
            .client_id_metadata_documents
            .as_deref()
            .map(metadata_documents)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Stores a tenant built by [`tenant_from_spec`]; a taken id or domain is a `Conflict`.
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
    if let Some(r) = &patch.registration {
        after.registration = registration(r)?;
    }
    if let Some(v) = &patch.verify_email {
        after.verify_email = verify_email(v)?;
    }
    if let Some(m) = &patch.mfa {
        after.mfa = mfa(m)?;
    }
    if let Some(d) = &patch.dynamic_registration {
        after.dynamic_registration = dynamic_registration(d)?;
    }
    if let Some(d) = &patch.client_id_metadata_documents {
        after.client_id_metadata_documents = metadata_documents(d)?;
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
