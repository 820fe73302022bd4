//! grant_type=client_credentials (RFC 6749 4.4): a token for the client
//! itself; no id_token, no refresh token, nothing stored.

use super::Request;
use crate::error::ApiError;
use crate::jwt::mint::{Minter, Subject, TokenResponse};
use keygate_core::grant::check_client_credentials;
use keygate_core::scope::Scope;

/// Issues the client's own access token for `requested`.
pub(super) async fn exchange(
    req: &Request<'_>,
    requested: Option<&Scope>,
) -> Result<TokenResponse, ApiError> {
    let scope = check_client_credentials(req.client, requested)?;
    let minter = Minter::new(req.state, req.door, req.client, req.now).await?;
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
