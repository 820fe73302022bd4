//! grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 3.4,
//! 3.5): each poll is answered by the core's `decide_poll`; while pending
//! the poll is recorded (with the interval a `slow_down` raised), and once
//! the person allowed it the grant made then is redeemed through the same
//! conditional consume as an authorization code, so of racing polls
//! exactly one gets tokens.

use super::{exchange_and_answer, Drawn, Request};
use crate::error::ApiError;
use crate::jwt::mint::TokenResponse;
use keygate_core::device::{decide_poll, Poll};
use keygate_core::grant::{decide_device, Credential};
use keygate_store::{Check, CodeGrant};

/// Answers a poll with `device_code`.
pub(super) async fn exchange(
    req: &Request<'_>,
    device_code: &str,
) -> Result<TokenResponse, ApiError> {
    let state = req.state;
    let hash = crate::device::device_code_hash(device_code);
    let found = state.store.device_authorization(&hash).await?;
    let poll = decide_poll(found.as_ref(), &req.door.tenant.id, &req.client.id, req.now);
    let interval = match (&poll, &found) {
        (Poll::Redeem { .. }, _) => return redeem(req, &hash).await,
        (Poll::SlowDown { interval }, _) => Some(*interval),
        (Poll::Pending, Some(d)) => Some(d.interval),
        _ => None,
    };
    if let Some(interval) = interval {
        state
            .store
            .record_device_poll(&hash, req.now, interval)
            .await?;
    }
    let error = poll
        .error()
        .ok_or_else(|| ApiError::internal("a poll decision without an answer"))?;
    Err(error.into())
}

/// Redeems the grant of an allowed device authorization, once.
async fn redeem(req: &Request<'_>, device_hash: &str) -> Result<TokenResponse, ApiError> {
    let code_hash = crate::device::grant_code_hash(device_hash);
    let (token, drawn) = Drawn::draw();
    // No redirect URI and no PKCE verifier: the device code stands for both.
    let sent = super::Sent::of(req, None, None);
    let check: Check<CodeGrant> = Box::new(move |(grant, user)| {
        decide_device(grant, user.is_some(), &sent.presented()).map(|d| drawn.approve(d))
    });
    let now = req.now;
    let start = |then| req.state.store.exchange_code(&code_hash, now, check, then);
    exchange_and_answer(req, |found| found, start, Credential::DeviceCode, token).await
}
