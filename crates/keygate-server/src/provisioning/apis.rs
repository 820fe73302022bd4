//! APIs (resource servers) and the scopes of them granted to clients: the
//! settings of a new API and of a change, checked by one set of rules, and
//! their storage (docs/apis.md).

use super::*;
use keygate_core::resource::is_identifier;
use keygate_core::scope::{Scope, USER_SCOPES};

/// Most scopes one API may define.
pub const MAX_API_SCOPES: usize = 100;

/// A new API.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApi {
    /// Its identifier: an absolute URI without a fragment (RFC 8707), the
    /// `audience` or `resource` clients send and its tokens' `aud`.
    pub identifier: String,
    /// A name for people (default: the identifier).
    #[serde(default)]
    pub name: Option<String>,
    /// The scopes it defines (scope tokens; not openid, profile, email,
    /// address, phone or offline_access, which belong to people).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime of its access tokens (default: each client's).
    #[serde(default)]
    pub access_token_ttl: Option<Ttl>,
    /// Algorithm of its access tokens (default: each client's).
    #[serde(default)]
    #[schema(value_type = Option<SigningAlgName>)]
    pub signing_alg: Option<String>,
}

/// Changes to an API; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiPatch {
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
    /// The scopes it defines; replaces the whole list. Clients lose grants
    /// of scopes no longer defined.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Lifetime of its access tokens.
    #[serde(default)]
    pub access_token_ttl: Option<Ttl>,
    /// Algorithm of its access tokens.
    #[serde(default)]
    #[schema(value_type = Option<SigningAlgName>)]
    pub signing_alg: Option<String>,
}

/// The scopes of an API a client may get for itself.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientGrant {
    /// The API's identifier.
    pub api: String,
    /// Scopes the API defines; replaces an earlier grant of that API.
    pub scopes: Vec<String>,
}

fn scopes(raw: &[String]) -> Result<Vec<String>> {
    if raw.len() > MAX_API_SCOPES {
        return Err(ProvisionError::invalid(
            "scopes",
            format!("at most {MAX_API_SCOPES} scopes"),
        ));
    }
    let parsed = Scope::parse(&raw.join(" "))
        .map_err(|e| ProvisionError::invalid("scopes", e.description.into_owned()))?;
    if raw.iter().any(|s| s.is_empty() || s.contains(' ')) {
        return Err(ProvisionError::invalid(
            "scopes",
            "each scope is one scope token (no spaces)",
        ));
    }
    if let Some(bad) = parsed.tokens().find(|t| USER_SCOPES.contains(t)) {
        return Err(ProvisionError::invalid(
            "scopes",
            format!("'{bad}' is a scope of people, not of an API"),
        ));
    }
    Ok(parsed.tokens().map(str::to_string).collect())
}

fn alg(raw: &Option<String>) -> Result<Option<SigningAlg>> {
    raw.as_deref()
        .map(|s| {
            SigningAlg::parse(s).ok_or_else(|| {
                ProvisionError::invalid("signing_alg", format!("'{s}': use RS256, ES256 or EdDSA"))
            })
        })
        .transpose()
}

fn name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ProvisionError::invalid(
            "name",
            "1 to 200 characters, no control characters",
        ));
    }
    Ok(name.to_string())
}

fn optional_ttl(raw: &Option<Ttl>) -> Result<Option<i64>> {
    raw.as_ref()
        .map(|t| {
            t.seconds()
                .map_err(|e| ProvisionError::invalid("access_token_ttl", e))
        })
        .transpose()
}

/// The API a request describes, checked (no I/O).
pub fn api_from_spec(tenant: &str, spec: &NewApi, now: i64) -> Result<Api> {
    if !is_identifier(&spec.identifier) {
        return Err(ProvisionError::invalid(
            "identifier",
            "an absolute URI without a fragment, at most 512 characters (RFC 8707)",
        ));
    }
    Ok(Api {
        tenant_id: tenant.to_string(),
        identifier: spec.identifier.clone(),
        name: name(spec.name.as_deref().unwrap_or(&spec.identifier))?,
        scopes: scopes(&spec.scopes)?,
        access_token_ttl: optional_ttl(&spec.access_token_ttl)?,
        signing_alg: alg(&spec.signing_alg)?,
        created_at: now,
    })
}

/// Stores a new API if its tenant exists.
pub async fn create_api(store: &dyn Store, api: &Api) -> Result<()> {
    existing_tenant(store, &api.tenant_id).await?;
    store.create_api(api).await?;
    Ok(())
}

fn no_api(identifier: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("API '{identifier}' does not exist"))
}

/// The stored API, or `NotFound` (also when its tenant does not exist).
pub async fn existing_api(store: &dyn Store, tenant: &str, identifier: &str) -> Result<Api> {
    existing_tenant(store, tenant).await?;
    store
        .get_api(tenant, identifier)
        .await?
        .ok_or_else(|| no_api(identifier))
}

/// The API with the changes applied, checked (no I/O).
pub fn apply_api_patch(api: &Api, patch: &ApiPatch) -> Result<Api> {
    let mut out = api.clone();
    if let Some(n) = &patch.name {
        out.name = name(n)?;
    }
    if let Some(s) = &patch.scopes {
        out.scopes = scopes(s)?;
    }
    if patch.access_token_ttl.is_some() {
        out.access_token_ttl = optional_ttl(&patch.access_token_ttl)?;
    }
    if patch.signing_alg.is_some() {
        out.signing_alg = alg(&patch.signing_alg)?;
    }
    Ok(out)
}

/// Applies the changes to a stored API; the API as now stored.
pub async fn update_api(
    store: &dyn Store,
    tenant: &str,
    identifier: &str,
    patch: &ApiPatch,
) -> Result<Api> {
    let api = existing_api(store, tenant, identifier).await?;
    let after = apply_api_patch(&api, patch)?;
    if !store.update_api(&after).await? {
        return Err(no_api(identifier));
    }
    Ok(after)
}

/// Deletes an API and its client grants.
pub async fn delete_api(store: &dyn Store, tenant: &str, identifier: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_api(tenant, identifier).await? {
        return Err(no_api(identifier));
    }
    Ok(())
}

/// Grants a client scopes of an API for itself (replacing an earlier grant
/// of that API). The client must be confidential and the scopes defined by
/// the API.
pub async fn grant_client(
    store: &dyn Store,
    tenant: &str,
    client_id: &str,
    spec: &NewClientGrant,
) -> Result<ClientGrant> {
    let client = existing_client(store, tenant, client_id).await?;
    if client.public {
        return Err(ProvisionError::invalid(
            "client_id",
            "a public client cannot get tokens for itself (client_credentials)",
        ));
    }
    let api = existing_api(store, tenant, &spec.api).await?;
    let asked = scopes(&spec.scopes)?;
    if asked.is_empty() {
        return Err(ProvisionError::invalid("scopes", "name at least one scope"));
    }
    if let Some(bad) = asked.iter().find(|s| !api.scopes.contains(s)) {
        return Err(ProvisionError::invalid(
            "scopes",
            format!("'{bad}' is not a scope of {}", api.identifier),
        ));
    }
    let grant = ClientGrant {
        tenant_id: tenant.to_string(),
        client_id: client.id,
        api: api.identifier,
        scopes: asked,
    };
    store.set_client_grant(&grant).await?;
    Ok(grant)
}

/// Removes a client's grant of an API.
pub async fn revoke_client_grant(
    store: &dyn Store,
    tenant: &str,
    client_id: &str,
    api: &str,
) -> Result<()> {
    existing_client(store, tenant, client_id).await?;
    if !store.delete_client_grant(tenant, client_id, api).await? {
        return Err(ProvisionError::NotFound(format!(
            "client '{client_id}' has no grant of '{api}'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(identifier: &str, scopes: &[&str]) -> NewApi {
        NewApi {
            identifier: identifier.into(),
            name: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            access_token_ttl: None,
            signing_alg: None,
        }
    }

    #[test]
    fn an_api_is_checked_before_it_is_stored() {
        let api = api_from_spec(
            "t",
            &spec("https://api.example/pay", &["pay:read", "pay:read"]),
            1,
        )
        .unwrap();
        assert_eq!(api.scopes, vec!["pay:read"], "repeats dropped");
        assert_eq!(api.name, "https://api.example/pay");
        for (s, field) in [
            (spec("pay", &[]), "identifier"),
            (spec("https://a/#f", &[]), "identifier"),
            (spec("https://a/", &["openid"]), "scopes"),
            (spec("https://a/", &["a b"]), "scopes"),
            (spec("https://a/", &["bad\"q"]), "scopes"),
        ] {
            match api_from_spec("t", &s, 1) {
                Err(ProvisionError::Invalid { field: Some(f), .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
        let mut bad = spec("https://a/", &[]);
        bad.signing_alg = Some("HS256".into());
        assert!(api_from_spec("t", &bad, 1).is_err());
        bad.signing_alg = Some("ES256".into());
        bad.access_token_ttl = Some(Ttl::Text("10m".into()));
        let a = api_from_spec("t", &bad, 1).unwrap();
        assert_eq!(
            (a.signing_alg, a.access_token_ttl),
            (Some(SigningAlg::ES256), Some(600))
        );
        let patched = apply_api_patch(
            &a,
            &ApiPatch {
                scopes: Some(vec!["x".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (patched.scopes.len(), patched.access_token_ttl),
            (1, Some(600))
        );
    }
}
