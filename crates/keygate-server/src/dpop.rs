//! DPoP (RFC 9449) at this server's endpoints: reading a request's proof,
//! checking it with the core's rules ([`keygate_core::dpop`]) and the
//! proof's own key ([`keygate_crypto::thumbprint`]), spending its `jti`
//! once across every node ([`keygate_store::ReplayStore`]), and the
//! server nonces (RFC 9449 8), which are stateless: a MAC of the tenant and
//! the time window under a key derived from the master key, so every node
//! mints and accepts the same ones. docs/dpop.md says what clients see.

use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use keygate_core::dpop::{self, DpopError, Expected, Proof};
use keygate_crypto::dpop_nonce::NonceKey;
use keygate_crypto::sealing::MasterKey;

/// The paths the token endpoint answers at under a door: a proof's `htu`
/// may name either.
pub(crate) const TOKEN_PATHS: &[&str] = &["/token", "/oauth/token"];
/// The path of the pushed authorization request endpoint under a door.
pub(crate) const PAR_PATHS: &[&str] = &["/par"];
/// The path of userinfo under a door.
pub(crate) const USERINFO_PATHS: &[&str] = &["/userinfo"];

/// The node's nonce key, derived from the master key (so the same on every
/// node of a deployment).
pub(crate) struct Nonces(NonceKey);

impl Nonces {
    /// The nonce key of this master key.
    pub(crate) fn new(master: &MasterKey) -> Nonces {
        Nonces(NonceKey::new(&master.derive_key("keygate dpop nonce")))
    }

    /// The nonce to hand out now (the current window's).
    pub(crate) fn fresh(&self, tenant: &str, now: i64) -> String {
        self.0.nonce(tenant, dpop::nonce_window(now))
    }

    /// The nonces accepted now: the current window's and the previous one's,
    /// so a nonce handed out just before a window ends still works.
    fn accepted(&self, tenant: &str, now: i64) -> [String; 2] {
        let w = dpop::nonce_window(now);
        [self.0.nonce(tenant, w), self.0.nonce(tenant, w - 1)]
    }
}

/// Where a proof is checked, and what the place asks of it.
pub(crate) struct Place<'a> {
    /// The request's method.
    pub(crate) method: &'a Method,
    /// The endpoint's paths under the door.
    pub(crate) paths: &'a [&'a str],
    /// Whether a nonce is required (the token endpoint: docs/dpop.md).
    pub(crate) nonce_required: bool,
    /// The access token presented, at a protected resource.
    pub(crate) access_token: Option<&'a str>,
}

/// Whether the request carries a `DPoP` header at all.
pub(crate) fn sent(headers: &HeaderMap) -> bool {
    headers.contains_key(dpop::HEADER)
}

/// The request's proof, checked and with its `jti` spent: `Ok(Ok(None))`
/// when it sent none, `Ok(Err(_))` when the proof is refused (why, in the
/// core's terms), `Err(_)` only for a fault of ours (the store).
pub(crate) async fn proof(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    place: &Place<'_>,
    now: i64,
) -> Result<Result<Option<Proof>, DpopError>, ApiError> {
    match check(state, door, headers, place, now) {
        Ok(Some(p)) => Ok(spend(state, door, &p, now).await?.map(|()| Some(p))),
        other => Ok(other),
    }
}

/// The request's proof checked, without spending its `jti` (no I/O):
/// `Ok(None)` when it sent none. A caller that checks more before the
/// proof counts (userinfo: the access token) spends it with [`spend`]
/// afterwards, so requests that fail anyway write nothing.
pub(crate) fn check(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    place: &Place<'_>,
    now: i64,
) -> Result<Option<Proof>, DpopError> {
    let mut values = headers.get_all(dpop::HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(DpopError::Multiple);
    }
    let text = value.to_str().map_err(|_| DpopError::Malformed)?;
    let uris: Vec<String> = place.paths.iter().map(|p| door.url(p)).collect();
    let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
    let [current, previous] = state.dpop.accepted(&door.tenant.id, now);
    let expected = Expected {
        method: place.method.as_str(),
        uris: &uris,
        now,
        nonce_required: place.nonce_required,
        nonces: &[&current, &previous],
        access_token: place.access_token,
    };
    dpop::check(
        text.trim(),
        &expected,
        keygate_crypto::thumbprint::verify_with_jwk,
    )
    .map(Some)
}

/// Spends a checked proof's `jti`: single use across every node (RFC 9449
/// 11.1), remembered until the proof would be stale anyway. A second use
/// is [`DpopError::Replayed`].
pub(crate) async fn spend(
    state: &AppState,
    door: &Door,
    proof: &Proof,
    now: i64,
) -> Result<Result<(), DpopError>, ApiError> {
    let key = dpop::replay_key(&door.tenant.id, &proof.jkt, &proof.jti);
    let first = state
        .store
        .first_use(&key, dpop::replay_expires_at(proof), now)
        .await?;
    Ok(if first {
        Ok(())
    } else {
        Err(DpopError::Replayed)
    })
}

/// Adds a fresh `DPoP-Nonce` (RFC 9449 8.1): on every answer to a request
/// that carried a proof, so the client's next proof can use it, and on a
/// `use_dpop_nonce` refusal, which asks for it.
pub(crate) fn add_nonce(state: &AppState, door: &Door, res: &mut Response, now: i64) {
    let nonce = state.dpop.fresh(&door.tenant.id, now);
    if let Ok(v) = HeaderValue::from_str(&nonce) {
        res.headers_mut().insert(dpop::NONCE_HEADER, v);
    }
}
