//! grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693):
//! a confidential client trades an access token of this tenant (the
//! subject token, and for a delegation its own actor token) for an access
//! token for one of its registered audiences. The tokens are verified here
//! (signature by the tenant's keys, issuer, expiry, revocation); every
//! rule of the exchange is `keygate_core::token_exchange::decide`'s.
//! Nothing is stored, and no refresh token is issued (docs/token-exchange.md).

use super::Request;
use crate::error::ApiError;
use crate::jwt::mint::{check_access_token, Inactive, Minter, Subject, TokenResponse};
use keygate_core::claims::AccessTokenClaims;
use keygate_core::token_exchange::{self, ExchangeRequest, Presented, Unusable};

/// Exchanges the request's subject token (and actor token, if any).
pub(super) async fn exchange(
    req: &Request<'_>,
    request: &ExchangeRequest,
) -> Result<TokenResponse, ApiError> {
    let subject = verify(req, &request.subject_token).await?;
    let actor = match &request.actor_token {
        Some(t) => Some(verify(req, t).await?),
        None => None,
    };
    let api = match &req.resource {
        Some(id) => req.state.api(&req.door.tenant.id, id).await?,
        None => None,
    };
    let decided = token_exchange::decide(&Presented {
        client: req.client,
        issuer: &req.door.issuer,
        subject: subject.as_ref().map_err(|why| *why),
        actor: actor.as_ref().map(|a| a.as_ref().map_err(|why| *why)),
        target: req.resource.as_deref(),
        api: api.as_ref(),
        scope: request.scope.as_ref(),
        now: req.now,
        dpop_jkt: req.dpop.as_deref(),
    })?;
    let minter = Minter::new(req.state, req.door, req.client, req.now)
        .await?
        .bound_to(req.dpop.clone());
    let scope = decided.scope.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    minter.sign_then(Subject::Exchanged(decided), scope, move |signed| {
        let _ = tx.send(signed);
    });
    let (minter, scope, signed) = rx
        .await
        .map_err(|_| ApiError::internal("a signing job panicked or was not queued"))?;
    let signed = signed.map_err(|e| ApiError::fault("signing the tokens failed", e))?;
    let mut response = minter.response(signed, &scope, None);
    response.issued_token_type = Some(token_exchange::ACCESS_TOKEN_TYPE);
    Ok(response)
}

/// A presented token's claims, verified as every access token of this
/// door is (`check_access_token`), or why it is not usable.
async fn verify(
    req: &Request<'_>,
    token: &str,
) -> Result<Result<AccessTokenClaims, Unusable>, ApiError> {
    Ok(check_access_token(req.state, req.door, token)
        .await?
        .map_err(|inactive| match inactive {
            Inactive::Malformed => Unusable::Malformed,
            Inactive::Unsupported => Unusable::Unsupported,
            Inactive::BadSignature => Unusable::BadSignature,
            Inactive::WrongIssuer => Unusable::WrongIssuer,
            Inactive::Expired => Unusable::Expired,
            Inactive::Revoked => Unusable::Revoked,
        }))
}
