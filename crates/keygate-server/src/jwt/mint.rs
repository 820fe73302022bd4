//! Minting and checking the JWTs Keygate issues.

use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use keygate_core::claims::{AccessTokenClaims, IdTokenClaims, UserClaims};
use keygate_core::claims_request::RequestedClaims;
use keygate_core::model::{Client, User};
use keygate_core::scope::{self, Scope};
use keygate_crypto::keys::SigningKey;
use keygate_crypto::{jws, secrets, CryptoError};
use serde::Serialize;
use std::sync::Arc;

/// Who a token is about. Owned, so that the whole minting can move to a
/// signing thread.
// One value per minting, moved once: boxing the larger variant would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Subject {
    /// A person, through a grant (authorization code or refresh token).
    Person {
        /// The person.
        user: User,
        /// When the person signed in for the grant.
        auth_time: i64,
        /// The authorization request's `nonce`, echoed in the id_token.
        nonce: Option<String>,
        /// The grant, which prefixes the access token's `jti` (revocation).
        grant_id: String,
        /// How the person signed in for the grant (the id_token's `amr`).
        amr: Vec<String>,
        /// The `acr` value the sign-in satisfied, if one was asked.
        acr: Option<String>,
        /// The API the grant is for (the access token's `aud`), if any.
        resource: Option<String>,
        /// The claims the request's `claims` parameter named, per place.
        claims: RequestedClaims,
        /// The session the grant was made from (the id_token's `sid`).
        sid: Option<String>,
    },
    /// The client itself (client_credentials).
    Client,
    /// The subject of a token exchange (RFC 8693), as decided by
    /// `keygate_core::token_exchange::decide`: an access token only.
    Exchanged(keygate_core::token_exchange::Exchanged),
}

#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// What was issued, in a token exchange's answer (RFC 8693 2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut res = axum::Json(self).into_response();
        crate::error::no_store(&mut res);
        res
    }
}

/// What signs one client's tokens for one door: the key of the client's
/// algorithm, the issuer, the client's id and token lifetimes. It owns what
/// it needs (and no more: not a copy of the whole client), so the whole
/// minting can run on a signing thread (see [`crate::endpoints::token`]'s exchanges).
pub(crate) struct Minter {
    key: Arc<SigningKey>,
    issuer: String,
    client_id: String,
    access_token_ttl: i64,
    id_token_ttl: i64,
    now: i64,
    /// The `aud` of the client's own tokens: its id, or the API it named.
    audience: String,
    /// The tenant's APIs with their own lifetime or algorithm, for the
    /// access tokens of grants made for them.
    apis: Vec<ApiMint>,
    /// The DPoP key the access token is bound to (`cnf.jkt`, RFC 9449 6),
    /// when the request carried a proof.
    jkt: Option<String>,
}

/// How the access tokens of one API are signed, where it differs from
/// the client's.
struct ApiMint {
    identifier: String,
    key: Option<Arc<SigningKey>>,
    ttl: Option<i64>,
}

/// What [`Minter::sign_then`] replies with: the minter (for the
/// response), the scope signed for, and the tokens or why signing failed.
pub(crate) type Minted = (Minter, Scope, Result<Signed, CryptoError>);

/// The signed tokens of one response.
pub(crate) struct Signed {
    access_token: String,
    id_token: Option<String>,
    /// The access token's lifetime (the client's, or its API's).
    expires_in: i64,
}

impl Minter {
    /// The minter of `client`'s tokens at `door`, dated `now` (the
    /// request's one clock reading).
    pub(crate) async fn new(
        state: &AppState,
        door: &Door,
        client: &Client,
        now: i64,
    ) -> Result<Minter, ApiError> {
        let (key, _) = state
            .keys
            .signer(&door.tenant.id, client.signing_alg)
            .await?;
        let mut apis = vec![];
        for api in state.tenant_apis(&door.tenant.id).await?.iter() {
            if api.access_token_ttl.is_none() && api.signing_alg.is_none() {
                continue;
            }
            let key = match api.signing_alg {
                Some(alg) if alg != client.signing_alg => {
                    Some(state.keys.signer(&door.tenant.id, alg).await?.0)
                }
                _ => None,
            };
            apis.push(ApiMint {
                identifier: api.identifier.clone(),
                key,
                ttl: api.access_token_ttl,
            });
        }
        Ok(Minter {
            key,
            issuer: door.issuer.clone(),
            client_id: client.id.clone(),
            access_token_ttl: client.access_token_ttl,
            id_token_ttl: client.id_token_ttl,
            now,
            audience: client.id.clone(),
            apis,
            jkt: None,
        })
    }

    /// The same minter, binding the access token to the DPoP key `jkt`
    /// (RFC 9449 6.1) when there is one; its token type is then `DPoP`.
    pub(crate) fn bound_to(mut self, jkt: Option<String>) -> Minter {
        self.jkt = jkt;
        self
    }

    /// The minter of a client's own tokens for `api` (client_credentials
    /// naming it): its identifier as `aud`, its lifetime and algorithm.
    pub(crate) async fn for_api(
        mut self,
        state: &AppState,
        door: &Door,
        api: &keygate_core::model::Api,
    ) -> Result<Minter, ApiError> {
        if let Some(alg) = api.signing_alg {
            self.key = state.keys.signer(&door.tenant.id, alg).await?.0;
        }
        if let Some(ttl) = api.access_token_ttl {
            self.access_token_ttl = ttl;
        }
        self.audience = api.identifier.clone();
        Ok(self)
    }

    /// The `aud`, key and lifetime of the access token for `resource`.
    fn access_token_for<'a>(
        &'a self,
        resource: Option<&'a str>,
    ) -> (&'a str, &'a Arc<SigningKey>, i64) {
        let Some(r) = resource else {
            return (&self.audience, &self.key, self.access_token_ttl);
        };
        match self.apis.iter().find(|a| a.identifier == r) {
            Some(a) => (
                r,
                a.key.as_ref().unwrap_or(&self.key),
                a.ttl.unwrap_or(self.access_token_ttl),
            ),
            None => (r, &self.key, self.access_token_ttl),
        }
    }

    /// The one way tokens are signed: on a signing thread
    /// ([`crate::signing`]; RSA is CPU work that must never run on the async
    /// runtime), calling `reply` there with the minter, the scope and the
    /// signed tokens. `reply` must be quick and must not block.
    pub(crate) fn sign_then(
        self,
        subject: Subject,
        scope: Scope,
        reply: impl FnOnce(Minted) + Send + 'static,
    ) {
        crate::signing::submit(move || {
            let signed = self.sign(&subject, &scope);
            crate::signing::deliver(move || reply((self, scope, signed)));
        });
    }

    /// Signs the access token, and the id_token when `openid` was granted
    /// to a person.
    fn sign(&self, subject: &Subject, scope: &Scope) -> Result<Signed, CryptoError> {
        let (client_id, now) = (&self.client_id, self.now);
        let random = secrets::random_token(16);
        let (sub, jti, auth_time) = match subject {
            Subject::Person {
                user,
                auth_time,
                grant_id,
                ..
            } => (
                user.sub.clone(),
                format!("{grant_id}.{random}"),
                Some(*auth_time),
            ),
            Subject::Client => (client_id.clone(), random, None),
            // Under the subject token's grant, so revoking it reaches this one.
            Subject::Exchanged(e) => (
                e.sub.clone(),
                match &e.grant_id {
                    Some(g) => format!("{g}.{random}"),
                    None => random,
                },
                e.auth_time,
            ),
        };
        let (resource, userinfo_claims) = match subject {
            Subject::Person {
                resource, claims, ..
            } => (resource.as_deref(), claims.userinfo.join(" ")),
            Subject::Client => (None, String::new()),
            Subject::Exchanged(e) => (Some(e.audience.as_str()), String::new()),
        };
        let (aud, at_key, mut ttl) = self.access_token_for(resource);
        let mut act = None;
        if let Subject::Exchanged(e) = subject {
            // Never outliving the subject token (RFC 8693 2.2.1 leaves
            // the lifetime to the server).
            ttl = ttl.min(e.not_after - now).max(0);
            act = e.act.clone();
        }
        let at = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: sub.clone(),
            aud: aud.to_string(),
            client_id: client_id.clone(),
            scope: scope.to_string(),
            exp: now + ttl,
            iat: now,
            jti,
            auth_time,
            userinfo_claims,
            cnf: self
                .jkt
                .clone()
                .map(|jkt| keygate_core::claims::Confirmation { jkt }),
            act,
        };
        let access_token = jws::sign(at_key, "at+jwt", &at)?;
        let id_token = match subject {
            Subject::Person {
                user,
                auth_time,
                nonce,
                amr,
                acr,
                claims,
                sid,
                ..
            } if scope.contains(scope::OPENID) => Some(jws::sign(
                &self.key,
                "JWT",
                &IdTokenClaims {
                    iss: self.issuer.clone(),
                    sub,
                    aud: client_id.clone(),
                    exp: now + self.id_token_ttl,
                    iat: now,
                    auth_time: *auth_time,
                    nonce: nonce.clone(),
                    at_hash: Some(jws::at_hash(self.key.alg, &access_token)),
                    azp: client_id.clone(),
                    acr: acr.clone(),
                    amr: amr.clone(),
                    sid: sid.clone(),
                    profile: UserClaims::released(user, scope, &claims.id_token),
                },
            )?),
            _ => None,
        };
        Ok(Signed {
            access_token,
            id_token,
            expires_in: ttl,
        })
    }

    /// The token response of `signed`.
    pub(crate) fn response(
        &self,
        signed: Signed,
        scope: &Scope,
        refresh_token: Option<String>,
    ) -> TokenResponse {
        TokenResponse {
            access_token: signed.access_token,
            // RFC 9449 5: a bound access token's type is DPoP.
            token_type: if self.jkt.is_some() { "DPoP" } else { "Bearer" },
            expires_in: signed.expires_in,
            scope: scope.to_string(),
            id_token: signed.id_token,
            refresh_token,
            issued_token_type: None,
        }
    }
}

/// Why an access token is not accepted (all are `invalid_token` outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inactive {
    Malformed,
    /// `alg` not one Keygate signs with, or no `kid`.
    Unsupported,
    BadSignature,
    WrongIssuer,
    Expired,
    Revoked,
}

impl Inactive {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Inactive::Malformed => "the access token is malformed",
            Inactive::Unsupported => {
                "the access token's algorithm or key id is not one this server uses"
            }
            Inactive::BadSignature => "the access token's signature is not valid",
            Inactive::WrongIssuer => "the access token was issued by another issuer",
            Inactive::Expired => "the access token has expired",
            Inactive::Revoked => "the access token was revoked",
        }
    }
}

/// Verifies an access token of this door's tenant and issuer, and checks
/// that neither it, its grant, nor its client has been revoked or deleted.
pub(crate) async fn check_access_token(
    state: &AppState,
    door: &Door,
    token: &str,
) -> Result<Result<AccessTokenClaims, Inactive>, ApiError> {
    Ok(check_bearer(state, door, token, false)
        .await?
        .map(|(claims, _)| claims))
}

/// [`check_access_token`], and the token's person as stored now (read in
/// the same statement as the revocation checks), for userinfo.
pub(crate) async fn check_access_token_and_person(
    state: &AppState,
    door: &Door,
    token: &str,
) -> Result<Result<(AccessTokenClaims, Option<User>), Inactive>, ApiError> {
    check_bearer(state, door, token, true).await
}

async fn check_bearer(
    state: &AppState,
    door: &Door,
    token: &str,
    with_person: bool,
) -> Result<Result<(AccessTokenClaims, Option<User>), Inactive>, ApiError> {
    let keys = state.keys.keys(&door.tenant.id).await?;
    let mut verified = jws::verify::<AccessTokenClaims>(token, &keys.verifying);
    // Only a kid of an algorithm we use is worth a (coalesced) reload.
    if verified == Err(jws::JwtError::UnknownKey) {
        let fresh = state.keys.keys_for_unknown_kid(&door.tenant.id).await?;
        verified = jws::verify(token, &fresh.verifying);
    }
    let (header, claims): (_, AccessTokenClaims) = match verified {
        Ok(v) => v,
        Err(jws::JwtError::Malformed) => return Ok(Err(Inactive::Malformed)),
        Err(jws::JwtError::Unsupported) => return Ok(Err(Inactive::Unsupported)),
        Err(_) => return Ok(Err(Inactive::BadSignature)),
    };
    if header.typ.as_deref() != Some("at+jwt") {
        return Ok(Err(Inactive::Malformed));
    }
    if claims.iss != door.issuer {
        return Ok(Err(Inactive::WrongIssuer));
    }
    if claims.exp <= crate::now() {
        return Ok(Err(Inactive::Expired));
    }
    let person = with_person.then_some((door.tenant.id.as_str(), claims.sub.as_str()));
    let standing = state
        .store
        .token_standing(&claims.jti, claims.grant_id(), person)
        .await?;
    if !standing.stands() {
        return Ok(Err(Inactive::Revoked));
    }
    if state
        .client(&door.tenant.id, &claims.client_id)
        .await?
        .is_none()
    {
        return Ok(Err(Inactive::Revoked));
    }
    Ok(Ok((claims, standing.person)))
}

/// The bearer token of a request (RFC 6750 2.1).
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}
