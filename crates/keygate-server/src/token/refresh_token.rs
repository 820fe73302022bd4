//! grant_type=refresh_token (RFC 6749 6), rotating on every use
//! (RFC 9700 4.14.2): the presented token dies, a new one is issued, and a
//! reused token revokes its whole family.

use crate::door::Door;
use crate::error::ApiError;
use crate::tokens::{mint, Subject, TokenResponse};
use crate::AppState;
use keygate_core::grant::{check_refresh, issues_refresh_token};
use keygate_core::model::Client;
use keygate_core::scope::Scope;
use keygate_core::OAuthError;
use keygate_crypto::secrets::sha256_hex;
use keygate_store::Consumed;

pub async fn exchange(
    state: &AppState,
    door: &Door,
    client: &Client,
    refresh_token: &str,
    requested: Option<&Scope>,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let now = crate::now();
    let hash = sha256_hex(refresh_token);
    let (token, grant) = state
        .store
        .refresh_token(&hash)
        .await?
        .filter(|(t, _)| t.tenant_id == door.tenant.id)
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
    let scope = match check_refresh(
        &token,
        &grant,
        client,
        requested,
        redirect_uri,
        code_verifier,
        now,
    ) {
        Ok(s) => s,
        Err(refusal) => {
            if let Some(id) = &refusal.revoke_grant {
                state.store.revoke_grant(id, now).await?;
                tracing::warn!(grant = %id, client = %client.id, "refresh token reused; family revoked");
            }
            return Err(refusal.error.into());
        }
    };
    let user = state
        .store
        .get_user(&door.tenant.id, &grant.user_sub)
        .await?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the person this token was issued for no longer exists")
        })?;
    // The successor keeps the grant's full scope (RFC 6749 6); only this
    // access token is narrowed.
    let granted = Scope::parse(&grant.scope)?;
    let (next, record) = match issues_refresh_token(client, &granted) {
        true => {
            let (t, r) = super::new_refresh(door, client, &grant.id);
            (Some(t), Some(r))
        }
        false => (None, None),
    };
    if state
        .store
        .rotate_refresh(&hash, now, record.as_ref())
        .await?
        == Consumed::Lost
    {
        state.store.revoke_grant(&grant.id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; every token of this grant is now revoked",
        )
        .into());
    }
    let subject = Subject::Person {
        user: &user,
        auth_time: grant.auth_time,
        nonce: grant.nonce.as_deref(),
        grant_id: &grant.id,
    };
    mint(state, door, client, subject, &scope, next).await
}
