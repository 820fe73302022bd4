//! People's second factors as administrators see them: list, remove one,
//! reset all (the admin API's `.../users/{sub}/factors` and `keygate user
//! factors|remove-factor|reset-factors`).

use super::*;
use crate::admin::views::{FactorList, FactorType, FactorView, RecoveryCodesView};

/// The seconds of one TOTP time step.
const TOTP_STEP: i64 = 30;

fn no_factor(id: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("factor '{id}' does not exist"))
}

/// Whether `id` could name a stored person or factor: ids are short and
/// printable. Others are unknown without asking the store (PostgreSQL
/// refuses a NUL in text, which would be a 500 instead of a 404).
fn plausible(id: &str) -> bool {
    !id.is_empty() && id.len() <= 200 && !id.chars().any(char::is_control)
}

/// The person, or `NotFound`.
async fn person(store: &dyn Store, tenant: &str, sub: &str) -> Result<User> {
    if !plausible(sub) {
        existing_tenant(store, tenant).await?;
        return Err(users::no_user(sub));
    }
    existing_user(store, tenant, sub).await
}

/// The person's confirmed second factors and how many recovery codes they
/// have left; `NotFound` for an unknown tenant or person.
pub async fn factors(store: &dyn Store, tenant: &str, sub: &str) -> Result<FactorList> {
    person(store, tenant, sub).await?;
    let apps = store
        .totp_devices(tenant, sub)
        .await?
        .into_iter()
        .filter(|d| d.confirmed_at.is_some())
        .map(|d| FactorView {
            id: d.id,
            kind: FactorType::Totp,
            name: d.name,
            created_at: d.created_at,
            last_used_at: d.last_used_step.map(|s| s.saturating_mul(TOTP_STEP)),
        });
    let passkeys = store
        .passkeys(tenant, sub)
        .await?
        .into_iter()
        .map(|p| FactorView {
            id: p.id,
            kind: FactorType::Passkey,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        });
    let items = apps.chain(passkeys).collect();
    let remaining = store.recovery_codes_left(tenant, sub).await?;
    Ok(FactorList {
        items,
        recovery_codes: RecoveryCodesView { remaining },
    })
}

/// Removes one of the person's factors; with their last one, their
/// recovery codes go too. `NotFound` when the factor is not theirs.
pub async fn remove_factor(store: &dyn Store, tenant: &str, sub: &str, id: &str) -> Result<()> {
    person(store, tenant, sub).await?;
    if !plausible(id)
        || !(store.delete_totp_device(tenant, sub, id).await?
            || store.delete_passkey(tenant, sub, id).await?)
    {
        return Err(no_factor(id));
    }
    let codes = store
        .delete_recovery_codes_without_factor(tenant, sub)
        .await?;
    tracing::info!(
        tenant,
        sub,
        factor = id,
        recovery_codes_deleted = codes,
        "second factor removed by an administrator"
    );
    Ok(())
}

/// Removes every factor and recovery code of the person and ends their
/// sessions: their next sign-in is with the password alone.
pub async fn reset_factors(store: &dyn Store, tenant: &str, sub: &str) -> Result<()> {
    person(store, tenant, sub).await?;
    store.reset_factors(tenant, sub, crate::now()).await?;
    crate::backchannel::wake();
    tracing::info!(
        tenant,
        sub,
        "second factors reset by an administrator; sessions ended"
    );
    Ok(())
}
