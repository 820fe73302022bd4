//! What people allowed third-party clients, as the admin API and CLI show
//! and revoke it (docs/apis.md, "Consent").

use super::*;

/// A person's consents, by client and API.
pub async fn consents(store: &dyn Store, tenant: &str, sub: &str) -> Result<Vec<Consent>> {
    existing_user(store, tenant, sub).await?;
    Ok(store.consents_of(tenant, sub).await?)
}

/// Revokes what a person allowed a client, and the grants (refresh tokens)
/// it allowed.
pub async fn revoke_consent(
    store: &dyn Store,
    tenant: &str,
    sub: &str,
    client_id: &str,
    now: i64,
) -> Result<()> {
    existing_user(store, tenant, sub).await?;
    if !store.revoke_consent(tenant, sub, client_id, now).await? {
        return Err(ProvisionError::NotFound(format!(
            "the user has no consent for client '{client_id}'"
        )));
    }
    Ok(())
}
