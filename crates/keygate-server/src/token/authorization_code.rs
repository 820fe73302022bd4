//! grant_type=authorization_code (RFC 6749 4.1.3, RFC 7636 4.5).

use super::{lost, person, person_tokens, refuse, successor};
use crate::door::Door;
use crate::error::ApiError;
use crate::tokens::TokenResponse;
use crate::AppState;
use keygate_core::grant::check_code;
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
    let (grant, user) = state
        .store
        .grant_by_code(&code_hash)
        .await?
        .filter(|(g, _)| g.tenant_id == door.tenant.id)
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is not valid"))?;
    if let Err(refusal) = check_code(&grant, client, redirect_uri, code_verifier, now) {
        return Err(refuse(state, client, refusal, now).await);
    }
    let user = person(user)?;
    let scope = Scope::parse(&grant.scope)?;
    let (refresh, record) = successor(door, client, &grant, &scope);
    // Single use decided by the database; the refresh token is committed
    // with it, before any token leaves.
    if state
        .store
        .redeem_code(&code_hash, now, record.as_ref())
        .await?
        == Consumed::Lost
    {
        return Err(lost(state, &grant, now, "authorization code").await);
    }
    person_tokens(state, door, client, &user, &grant, &scope, refresh).await
}
