//! Tenants: checked specs, creation, changes, deletion.

use super::*;

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
