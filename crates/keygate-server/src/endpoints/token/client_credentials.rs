//! grant_type=client_credentials (RFC 6749 4.4): a token for the client
//! itself; no id_token, no refresh token, nothing stored. Naming an API
//! (`audience` or `resource`) makes the token that API's: its `aud`, its
//! lifetime and algorithm, and only the scopes granted to the client.

use super::Request;
use crate::error::ApiError;
use crate::jwt::mint::{Minter, Subject, TokenResponse};
use keygate_core::grant::check_client_credentials;
use keygate_core::scope::Scope;
use keygate_core::OAuthError;

/// Issues the client's own access token for `requested`.
pub(super) async fn exchange(
    req: &Request<'_>,
    requested: Option<&Scope>,
) -> Result<TokenResponse, ApiError> {
    let mut scope = check_client_credentials(req.client, requested)?;
    if req.client.registration_token_hash.is_some() && req.client.first_used_at.is_none() {
        crate::accounts::mark_used(req.state, req.door, &req.client.id).await?;
    }
    let mut minter = Minter::new(req.state, req.door, req.client, req.now)
        .await?
        .bound_to(req.dpop.clone());
    if let Some(id) = &req.resource {
        let tenant = req.door.tenant.id.as_str();
        let api = req.state.api(tenant, id).await?.ok_or_else(|| {
            OAuthError::invalid_target("the resource names no API of this tenant")
        })?;
        let grant = req
            .state
            .store
            .client_grant(tenant, &req.client.id, &api.identifier)
            .await?;
        scope = keygate_core::resource::client_scope(requested, &api, grant.as_ref())?;
        minter = minter.for_api(req.state, req.door, &api).await?;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    minter.sign_then(Subject::Client, scope, move |signed| {
        let _ = tx.send(signed);
    });
    let (minter, scope, signed) = rx
        .await
        .map_err(|_| ApiError::internal("a signing job panicked or was not queued"))?;
    let signed = signed.map_err(|e| ApiError::fault("signing the tokens failed", e))?;
    Ok(minter.response(signed, &scope, None))
}
