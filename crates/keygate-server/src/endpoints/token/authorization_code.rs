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
    let sent = super::Sent::of(req, redirect_uri, code_verifier);
    let check: Check<CodeGrant> = Box::new(move |(grant, user)| {
        decide_code(grant, user.is_some(), &sent.presented()).map(|d| drawn.approve(d))
    });
    let now = req.now;
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
