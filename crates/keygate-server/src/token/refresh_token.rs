//! grant_type=refresh_token (RFC 6749 6), rotating on every use
//! (RFC 9700 4.14.2): the presented token dies, a new one is issued, and a
//! reused token revokes its whole family.

use super::{lost, person, person_tokens, refuse, successor};
use crate::door::Door;
use crate::error::ApiError;
use crate::tokens::TokenResponse;
use crate::AppState;
use keygate_core::grant::check_refresh;
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
    let (token, grant, user) = state
        .store
        .refresh_token(&hash)
        .await?
        .filter(|(t, _, _)| t.tenant_id == door.tenant.id)
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
        Err(refusal) => return Err(refuse(state, client, refusal, now).await),
    };
    let user = person(user)?;
    // The successor keeps the grant's full scope (RFC 6749 6); only this
    // access token is narrowed.
    let (next, record) = successor(door, client, &grant, &Scope::parse(&grant.scope)?);
    if state
        .store
        .rotate_refresh(&hash, now, record.as_ref())
        .await?
        == Consumed::Lost
    {
        return Err(lost(state, &grant, now, "refresh token").await);
    }
    person_tokens(state, door, client, &user, &grant, &scope, next).await
}
