//! A round trip to an upstream: started by a redirect that carries a fresh
//! `state`, finished by the callback that must bring the same `state` back
//! in the same browser, once.
//!
//! - The `state` is 256 random bits. The store keeps only its SHA-256,
//!   with what the callback needs ([`Trip`]), for [`fed::TRIP_TTL`]; the
//!   callback takes the record (one conditional delete), so a replayed
//!   callback finds nothing.
//! - The browser keeps the `state` in an HttpOnly, SameSite=Lax cookie; a
//!   callback whose `state` is not the cookie's (a link sent to someone
//!   else, login CSRF) is refused before the record is touched.
//! - The PKCE verifier and the `nonce` are HMACs of the `state` under a key
//!   derived from the master key: any node can recompute them, and a copy
//!   of the store alone cannot.

use super::upstream::{self, TripSecrets, UpstreamError};
use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::AppState;
use axum::http::HeaderMap;
use keygate_core::federation::{self as fed, FederationState, StatePurpose, Trip, UpstreamIdp};
use keygate_crypto::secrets;

/// The redirect to the upstream and the cookie to set with it.
pub(crate) struct Started {
    pub location: String,
    pub cookie: String,
}

/// The PKCE verifier and nonce of the trip whose `state` is `value`.
pub(crate) fn secrets_of<'a>(state: &AppState, value: &'a str) -> TripSecrets<'a> {
    let key = &state.federation.trip_key;
    TripSecrets {
        state: value,
        nonce: key.hex(&format!("nonce\n{value}")),
        verifier: key.hex(&format!("pkce\n{value}")),
    }
}

/// Where the upstream sends the person back, at the door they came in by.
pub(crate) fn callback_uri(door: &Door, idp: &UpstreamIdp) -> String {
    door.url(&fed::callback_path(&idp.id))
}

/// Starts a trip to `idp` for `trip`: stores it and returns where to send
/// the browser. Nothing is stored when the upstream cannot be reached.
pub(crate) async fn start(
    state: &AppState,
    door: &Door,
    idp: &UpstreamIdp,
    trip: &Trip,
) -> Result<Result<Started, UpstreamError>, ApiError> {
    let value = secrets::new_secret();
    let url = match upstream::authorization_url(
        state,
        idp,
        &callback_uri(door, idp),
        &secrets_of(state, &value),
    )
    .await
    {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let record = FederationState {
        tenant_id: door.tenant.id.clone(),
        purpose: StatePurpose::Trip,
        payload: serde_json::to_string(trip).map_err(|e| ApiError::internal(e.to_string()))?,
        expires_at: crate::now() + fed::TRIP_TTL,
    };
    state
        .store
        .put_federation_state(&secrets::sha256_hex(&value), &record)
        .await?;
    let https = state.config.https();
    Ok(Ok(Started {
        location: url,
        cookie: cookies::set(
            https,
            &cookies::federation_name(https),
            &value,
            Some(fed::TRIP_TTL),
        ),
    }))
}

/// Why a callback's `state` is refused (all shown as one page: the person
/// can only start again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No `state`, or not this browser's.
    NotThisBrowser,
    /// Unknown, expired, or already used.
    Unknown,
    /// Another tenant's or another upstream's.
    Foreign,
}

/// Takes the trip a callback names, once: its `state` must be the
/// browser's cookie and a live record of this tenant and upstream.
pub(crate) async fn take(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    idp_id: &str,
    value: Option<&str>,
) -> Result<Result<Trip, Refused>, ApiError> {
    let cookie = cookies::read(headers, &cookies::federation_name(state.config.https()));
    let value = match (value, cookie) {
        (Some(v), Some(c)) if !v.is_empty() && secrets::ct_eq(v.as_bytes(), c.as_bytes()) => v,
        _ => return Ok(Err(Refused::NotThisBrowser)),
    };
    let Some(record) = state
        .store
        .take_federation_state(&secrets::sha256_hex(value), crate::now())
        .await?
    else {
        return Ok(Err(Refused::Unknown));
    };
    if record.tenant_id != door.tenant.id || record.purpose != StatePurpose::Trip {
        return Ok(Err(Refused::Foreign));
    }
    match serde_json::from_str::<Trip>(&record.payload) {
        Ok(trip) if trip.idp_id == idp_id => Ok(Ok(trip)),
        _ => Ok(Err(Refused::Foreign)),
    }
}

/// The cookie that ends the trip in the browser.
pub(crate) fn clear_cookie(state: &AppState) -> String {
    let https = state.config.https();
    cookies::clear(https, &cookies::federation_name(https))
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_derived_apart_and_differ_per_state() {
        let master = keygate_crypto::sealing::MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let key = master.keyed_hash("keygate federation trip");
        let (n1, v1) = (key.hex("nonce\na"), key.hex("pkce\na"));
        let (n2, v2) = (key.hex("nonce\nb"), key.hex("pkce\nb"));
        assert_ne!(n1, v1);
        assert_ne!(n1, n2);
        assert_ne!(v1, v2);
        // A PKCE verifier is 43-128 unreserved characters (RFC 7636 4.1).
        assert_eq!(v1.len(), 64);
        assert!(v1.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
