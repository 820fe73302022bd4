//! grant_type=authorization_code (RFC 6749 4.1.3, RFC 7636 4.5).

use super::{exchange_and_answer, Drawn, Request};
use crate::error::ApiError;
use crate::jwt::mint::TokenResponse;
use keygate_core::grant::{decide_code, Credential};
use keygate_crypto::secrets::sha256_hex;
use keygate_store::{Check, CodeGrant};

/// Exchanges `code`: the protocol core decides within the store's consume
/// (single use decided by the database, the refresh token committed with
/// it), before any token leaves.
pub(super) async fn exchange(
    req: &Request<'_>,
    code: &str,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
) -> Result<TokenResponse, ApiError> {
    let code_hash = sha256_hex(code);
    let (token, drawn) = Drawn::draw();
    let (tenant_id, client, now) = (req.door.tenant.id.clone(), req.client.clone(), req.now);
    let resource = req.resource.clone();
    let check: Check<CodeGrant> = Box::new(move |(grant, user)| {
        let presented = super::presented(
            &tenant_id,
            &client,
            &redirect_uri,
            &code_verifier,
            &resource,
            now,
        );
        decide_code(grant, user.is_some(), &presented).map(|d| drawn.approve(d))
    });
    let start = |then| req.state.store.exchange_code(&code_hash, now, check, then);
    exchange_and_answer(
        req,
        |found| found,
        start,
        Credential::AuthorizationCode,
        token,
    )
    .await
}
