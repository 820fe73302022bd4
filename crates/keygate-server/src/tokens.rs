//! Minting and checking the JWTs Keygate issues.

use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use keygate_core::claims::{AccessTokenClaims, IdTokenClaims, UserClaims};
use keygate_core::model::{Client, User};
use keygate_core::scope::{self, Scope};
use keygate_crypto::{jws, secrets};
use serde::Serialize;

/// Who a token is about.
pub enum Subject<'a> {
    /// A person, through a grant (authorization code or refresh token).
    Person {
        user: &'a User,
        auth_time: i64,
        nonce: Option<&'a str>,
        grant_id: &'a str,
    },
    /// The client itself (client_credentials).
    Client,
}

#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut res = axum::Json(self).into_response();
        crate::error::no_store(&mut res);
        res
    }
}

/// Signs the access token (and the id_token when `openid` was granted to a
/// person) on the blocking pool ([`crate::cpu`]): RSA signing is CPU
/// work the async runtime must not wait on.
pub async fn mint(
    state: &AppState,
    door: &Door,
    client: &Client,
    subject: Subject<'_>,
    scope: &Scope,
    refresh_token: Option<String>,
) -> Result<TokenResponse, ApiError> {
    let now = crate::now();
    let (key, _) = state
        .keys
        .signer(&door.tenant.id, client.signing_alg)
        .await?;
    let random = secrets::random_token(16);
    let (sub, jti, auth_time) = match &subject {
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
        Subject::Client => (client.id.clone(), random, None),
    };
    let at = AccessTokenClaims {
        iss: door.issuer.clone(),
        sub: sub.clone(),
        aud: client.id.clone(),
        client_id: client.id.clone(),
        scope: scope.to_string(),
        exp: now + client.access_token_ttl,
        iat: now,
        jti,
        auth_time,
    };
    let id = match &subject {
        Subject::Person {
            user,
            auth_time,
            nonce,
            ..
        } if scope.contains(scope::OPENID) => Some(IdTokenClaims {
            iss: door.issuer.clone(),
            sub,
            aud: client.id.clone(),
            exp: now + client.id_token_ttl,
            iat: now,
            auth_time: *auth_time,
            nonce: nonce.map(str::to_string),
            at_hash: None,
            azp: client.id.clone(),
            profile: UserClaims::for_scope(user, scope),
        }),
        _ => None,
    };
    let (access_token, id_token) =
        crate::cpu::run(move || -> Result<_, keygate_crypto::CryptoError> {
            let access = jws::sign(&key, "at+jwt", &at)?;
            let id = match id {
                Some(mut claims) => {
                    claims.at_hash = Some(jws::at_hash(key.alg, &access));
                    Some(jws::sign(&key, "JWT", &claims)?)
                }
                None => None,
            };
            Ok((access, id))
        })
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl,
        scope: scope.to_string(),
        id_token,
        refresh_token,
    })
}

/// Why an access token is not accepted (all are `invalid_token` outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Malformed,
    BadSignature,
    WrongIssuer,
    Expired,
    Revoked,
}

impl Inactive {
    pub fn describe(self) -> &'static str {
        match self {
            Inactive::Malformed => "the access token is malformed",
            Inactive::BadSignature => "the access token's signature is not valid",
            Inactive::WrongIssuer => "the access token was issued by another issuer",
            Inactive::Expired => "the access token has expired",
            Inactive::Revoked => "the access token was revoked",
        }
    }
}

/// Verifies an access token of this door's tenant and issuer, and checks
/// that neither it, its grant, nor its client has been revoked or deleted.
pub async fn check_access_token(
    state: &AppState,
    door: &Door,
    token: &str,
) -> Result<Result<AccessTokenClaims, Inactive>, ApiError> {
    let keys = state.keys.keys(&door.tenant.id).await?;
    let mut verified = jws::verify::<AccessTokenClaims>(token, &keys.verifying);
    if verified == Err(jws::JwtError::UnknownKey) {
        let fresh = state.keys.keys_for_unknown_kid(&door.tenant.id).await?;
        verified = jws::verify(token, &fresh.verifying);
    }
    let (header, claims): (_, AccessTokenClaims) = match verified {
        Ok(v) => v,
        Err(jws::JwtError::Malformed) => return Ok(Err(Inactive::Malformed)),
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
    if state.store.is_jti_revoked(&claims.jti).await? {
        return Ok(Err(Inactive::Revoked));
    }
    if let Some(grant_id) = claims.grant_id() {
        match state.store.get_grant(grant_id).await? {
            Some(g) if g.revoked_at.is_none() => {}
            _ => return Ok(Err(Inactive::Revoked)),
        }
    }
    if state
        .client(&door.tenant.id, &claims.client_id)
        .await?
        .is_none()
    {
        return Ok(Err(Inactive::Revoked));
    }
    Ok(Ok(claims))
}

/// The bearer token of a request (RFC 6750 2.1).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub fn cors_headers(res: &mut Response, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}
