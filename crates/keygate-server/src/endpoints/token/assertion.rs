//! Verifying a client assertion once its claims and the client's method
//! were accepted (`private_key_jwt`, `client_secret_jwt`; RFC 7523 3,
//! docs/client-auth.md): the signature with the client's keys or sealed
//! secret, then the single use of its `jti`, in the store shared by every
//! node, until the assertion expires.

use crate::client_keys::{self, Freshness};
use crate::door::{Door, DoorKind};
use crate::error::ApiError;
use crate::AppState;
use keygate_core::client_assertion::{self, Accepted, AssertionError};
use keygate_core::model::{AuthMethod, Client};
use keygate_core::OAuthError;
use keygate_crypto::client_jws::{ClientJwsError, Compact};
use keygate_crypto::jwk_set;

/// Why an assertion was not accepted.
pub(super) enum Failure {
    /// The client failed to prove itself: counted in the client's
    /// authentication-failure limit.
    Refused(OAuthError),
    /// The client's `jwks_uri` could not be read: `invalid_client`, not
    /// counted (it is no guess).
    Unavailable(OAuthError),
    /// A fault of ours (the store, the master key).
    Fault(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Fault(e)
    }
}

/// The `aud` values that name this server at `door`: its issuer, its
/// token endpoint's URLs, and `also` (the URL of an endpoint that takes
/// assertions besides the token endpoint, when its caller names one).
pub(super) fn audiences(door: &Door, also: Option<&str>) -> Vec<String> {
    let mut out = vec![door.issuer.clone(), door.url("/token")];
    if door.kind == DoorKind::Root {
        out.push(door.url("/oauth/token"));
    }
    out.extend(also.map(str::to_string));
    out
}

fn refused(detail: impl Into<String>) -> Failure {
    Failure::Refused(OAuthError::invalid_client("client authentication failed").with_detail(detail))
}

/// Checks the assertion's signature with `client`'s keys, then uses its
/// `jti` once.
pub(super) async fn verify(
    state: &AppState,
    door: &Door,
    client: &Client,
    compact: &Compact,
    accepted: &Accepted,
    now: i64,
) -> Result<(), Failure> {
    match client.auth_method {
        AuthMethod::ClientSecretJwt => {
            let Some(sealed) = client.secret_sealed.as_deref() else {
                return Err(refused(
                    "the client has no sealed secret for client_secret_jwt",
                ));
            };
            let secret =
                client_keys::open_secret(state.keys.master(), &door.tenant.id, &client.id, sealed)
                    .map_err(|e| ApiError::fault("opening a client's sealed secret failed", e))?;
            compact
                .verify_hmac(&secret)
                .map_err(|e| refused(e.to_string()))?;
        }
        AuthMethod::PrivateKeyJwt => verify_signature(state, client, compact).await?,
        other => {
            return Err(refused(format!(
                "{} does not authenticate with an assertion",
                other.as_str()
            )))
        }
    }
    let key = client_assertion::replay_key(&door.tenant.id, &client.id, &accepted.jti);
    if !state
        .store
        .first_use(&key, accepted.remember_until, now)
        .await
        .map_err(ApiError::from)?
    {
        return Err(Failure::Refused(AssertionError::Replayed.into()));
    }
    Ok(())
}

/// A `private_key_jwt` signature, by the registered set or the one at the
/// client's `jwks_uri` (fetched again once if the `kid` is unknown).
async fn verify_signature(
    state: &AppState,
    client: &Client,
    compact: &Compact,
) -> Result<(), Failure> {
    if let Some(jwks) = &client.jwks {
        let set = serde_json::from_str(jwks)
            .map_err(|e| e.to_string())
            .and_then(|v| jwk_set::parse(&v).map_err(|e| e.to_string()))
            .map_err(|e| refused(format!("the client's registered jwks is not usable: {e}")))?;
        return compact
            .verify_with(&set)
            .map_err(|e| refused(e.to_string()));
    }
    let Some(uri) = client.jwks_uri.as_deref() else {
        return Err(refused("the client has neither jwks nor jwks_uri"));
    };
    let unavailable = |why: String| {
        Failure::Unavailable(
            OAuthError::invalid_client("the client's keys could not be read from its jwks_uri")
                .with_detail(why),
        )
    };
    let set = state
        .client_keys
        .keys(uri, Freshness::Kept)
        .await
        .map_err(unavailable)?;
    match compact.verify_with(&set) {
        Err(ClientJwsError::UnknownKey) => {
            let again = state
                .client_keys
                .keys(uri, Freshness::Recent)
                .await
                .map_err(unavailable)?;
            compact
                .verify_with(&again)
                .map_err(|e| refused(e.to_string()))
        }
        other => other.map_err(|e| refused(e.to_string())),
    }
}
