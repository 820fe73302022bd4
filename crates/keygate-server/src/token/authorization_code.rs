//! grant_type=authorization_code (RFC 6749 4.1.3, RFC 7636 4.5).

use crate::door::Door;
use crate::error::ApiError;
use crate::tokens::{mint, Subject, TokenResponse};
use crate::AppState;
use keygate_core::grant::{check_code, issues_refresh_token};
use keygate_core::model::Client;
use keygate_core::scope::Scope;
use keygate_core::OAuthError;
use keygate_crypto::secrets::sha256_hex;
use keygate_store::Consumed;

pub async fn exchange(
    state: &AppState,
    door: &Door,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let now = crate::now();
    let code_hash = sha256_hex(code);
    let grant = state
        .store
        .grant_by_code(&code_hash)
        .await?
        .filter(|g| g.tenant_id == door.tenant.id)
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is not valid"))?;
    if let Err(refusal) = check_code(&grant, client, redirect_uri, code_verifier, now) {
        if let Some(id) = &refusal.revoke_grant {
            state.store.revoke_grant(id, now).await?;
            tracing::warn!(grant = %id, client = %client.id, "authorization code replayed; grant revoked");
        }
        return Err(refusal.error.into());
    }
    let user = state
        .store
        .get_user(&door.tenant.id, &grant.user_sub)
        .await?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the person this code was issued for no longer exists")
        })?;
    let scope = Scope::parse(&grant.scope)?;
    let (refresh, record) = match issues_refresh_token(client, &scope) {
        true => {
            let (t, r) = super::new_refresh(door, client, &grant.id);
            (Some(t), Some(r))
        }
        false => (None, None),
    };
    // Single use decided by the database; the refresh token is committed
    // with it, before any token leaves.
    if state
        .store
        .redeem_code(&code_hash, now, record.as_ref())
        .await?
        == Consumed::Lost
    {
        state.store.revoke_grant(&grant.id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code was already used; tokens issued with it are revoked",
        )
        .into());
    }
    let subject = Subject::Person {
        user: &user,
        auth_time: grant.auth_time,
        nonce: grant.nonce.as_deref(),
        grant_id: &grant.id,
    };
    mint(state, door, client, subject, &scope, refresh).await
}
