//! grant_type=refresh_token (RFC 6749 6), rotating on every use
//! (RFC 9700 4.14.2): the presented token dies, a new one is issued, and a
//! reused token revokes its whole family.

use super::{exchange_and_answer, Drawn, Request};
use crate::error::ApiError;
use crate::jwt::mint::TokenResponse;
use keygate_core::grant::{decide_refresh, Credential};
use keygate_core::scope::Scope;
use keygate_crypto::secrets::refresh_token_key;
use keygate_store::{Check, RefreshGrant};

/// Exchanges `refresh_token`, narrowing the access token to `requested`.
pub(super) async fn exchange(
    req: &Request<'_>,
    refresh_token: &str,
    requested: Option<Scope>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
) -> Result<TokenResponse, ApiError> {
    let hash = refresh_token_key(refresh_token);
    let (token, drawn) = Drawn::draw();
    let sent = super::Sent::of(req, redirect_uri, code_verifier);
    let check: Check<RefreshGrant> = Box::new(move |(presented, grant, user)| {
        let p = sent.presented();
        decide_refresh(presented, grant, user.is_some(), requested.as_ref(), &p)
            .map(|d| drawn.approve(d))
    });
    let now = req.now;
    let start = |then| req.state.store.exchange_refresh(&hash, now, check, then);
    let person = |(_, grant, user)| (grant, user);
    exchange_and_answer(req, person, start, Credential::RefreshToken, token).await
}
