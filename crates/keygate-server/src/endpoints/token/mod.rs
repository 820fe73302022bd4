//! The token endpoint (RFC 6749 3.2): decode the body, authenticate the
//! client by its registered method, then hand the grant to its own file.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use crate::door::Door;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::jwt::mint::{Minter, Signed, Subject};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::basic::decode_basic;
use keygate_core::client_auth;
use keygate_core::model::{Client, Grant, User};
use keygate_core::params::Params;
use keygate_core::scope::Scope;
use keygate_core::token_request::TokenRequest;
use keygate_core::OAuthError;
use keygate_crypto::CryptoError;
use keygate_store::{Approved, Exchange, NewRefresh, Then};

/// Authenticates the calling client (token, revocation, introspection,
/// Journeys API); `methods` says whether only its registered method counts.
pub async fn authenticate_client(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: &Params,
    methods: client_auth::Methods,
) -> Result<Client, ApiError> {
    let basic = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Err(_)) => {
            return Err(
                OAuthError::invalid_client("the Authorization header is not readable").into(),
            )
        }
        Some(Ok(v)) => decode_basic(v).map_err(OAuthError::invalid_client)?,
    };
    let presented = client_auth::presented(basic, p.get("client_id"), p.get("client_secret"))?;
    // Failed authentications count per client id in the store (shared by
    // every node); past the limit, failures are answered 429 with a growing
    // Retry-After. The right secret is never refused: secrets carry 256 bits
    // (nothing to guess), so a lock would only let anyone who knows a public
    // client id lock that client out. Success costs no store access.
    let client = state.client(&door.tenant.id, &presented.client_id).await?;
    if let Err(e) = client_auth::authenticate(
        &presented,
        client.as_ref(),
        methods,
        keygate_crypto::secrets::secret_matches,
    ) {
        // Only registered clients are counted: an unknown id has no secret
        // to guess, and counting it would let anyone add rows at will.
        if presented.secret.is_some() && client.is_some() {
            let key = crate::limits::client_auth_key(&door.tenant.id, &presented.client_id);
            let blocked = state
                .store
                .record_failure(&key, crate::now(), &state.config.client_auth_limit)
                .await?;
            if let Some(secs) = blocked {
                return Err(ApiError::RateLimited {
                    retry_after: secs.max(1) as u64,
                    json: true,
                });
            }
        }
        return Err(e.into());
    }
    Ok(client.expect("authenticated clients exist"))
}

pub async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (result, client) = match body {
        Ok(body) => run(&state, &door, &headers, &body.params).await,
        Err(e) => (Err(e), None),
    };
    let mut res = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if let (Some(origin), Some(client)) = (origin, client) {
        if client.web_origins.contains(&origin) {
            crate::http::cors::allow_origin(&mut res, &origin);
        }
    }
    res
}

async fn run(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: &Params,
) -> (Result<Response, ApiError>, Option<Client>) {
    let client = match authenticate_client(
        state,
        door,
        headers,
        p,
        client_auth::Methods::Registered,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return (Err(e), None),
    };
    // The per-client limit: the client's own, else its tenant's, else the
    // server's (0 is off). Checked in memory, after authentication, so only
    // registered clients have buckets.
    let per_second = client
        .token_rate_limit
        .or(door.tenant.token_rate_limit)
        .unwrap_or(state.config.token_rate_limit);
    if let Err(retry_after) = state
        .throttle
        .check(&door.tenant.id, &client.id, per_second)
    {
        metrics::counter!("keygate_token_rate_limited_total").increment(1);
        let e = ApiError::RateLimited {
            retry_after,
            json: true,
        };
        return (Err(e), Some(client));
    }
    let result = grant(state, door, &client, p).await;
    (result, Some(client))
}

async fn grant(
    state: &AppState,
    door: &Door,
    client: &Client,
    p: &Params,
) -> Result<Response, ApiError> {
    let request = TokenRequest::parse(p)?;
    if !client.allows(request.grant_type()) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {} grant",
            request.grant_type().as_str()
        ))
        .into());
    }
    let grant_type = request.grant_type().as_str();
    let response = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            authorization_code::exchange(
                state,
                door,
                client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            )
            .await?
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            redirect_uri,
            code_verifier,
        } => {
            refresh_token::exchange(
                state,
                door,
                client,
                &refresh_token,
                scope.as_ref(),
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            )
            .await?
        }
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::exchange(state, door, client, scope.as_ref()).await?
        }
    };
    metrics::counter!("keygate_tokens_issued_total", "grant" => grant_type).increment(1);
    Ok(response.into_response())
}

/// Commits what a refusal demands (revoking the grant of a replayed code or
/// reused refresh token) and turns it into the answer.
pub(crate) async fn refuse(
    state: &AppState,
    client: &Client,
    refusal: keygate_core::grant::Refusal,
    now: i64,
) -> ApiError {
    if let Some(id) = &refusal.revoke_grant {
        if let Err(e) = state.store.revoke_grant(id, now).await {
            return e.into();
        }
        tracing::warn!(grant = %id, client = %client.id, "code or refresh token used twice; grant revoked");
    }
    refusal.error.into()
}

/// Why an exchange is refused when its grant's person was deleted.
pub(crate) fn person_gone() -> OAuthError {
    OAuthError::invalid_grant("the person this grant was made for no longer exists")
}

/// The refresh token an exchange may issue. Its value is drawn before the
/// exchange's check, which decides (by the client's policy for the scope)
/// whether its record is stored with the consume; the value is issued
/// only if it was.
pub(crate) struct Successor {
    hash: String,
    tenant_id: String,
}

impl Successor {
    /// A fresh value, and what its record is made from.
    pub(crate) fn draw(door: &Door) -> (String, Successor) {
        let token = keygate_crypto::secrets::new_refresh_token();
        let successor = Successor {
            hash: keygate_crypto::secrets::refresh_token_key(&token),
            tenant_id: door.tenant.id.clone(),
        };
        (token, successor)
    }

    /// The record to store, if `client`'s policy gives a refresh token for `scope`.
    pub(crate) fn record(
        self,
        client: &Client,
        grant: &Grant,
        scope: &Scope,
    ) -> Option<NewRefresh> {
        if !keygate_core::grant::issues_refresh_token(client, scope) {
            return None;
        }
        let now = crate::now();
        Some(NewRefresh {
            hash: self.hash,
            token: keygate_core::model::RefreshToken {
                grant_id: grant.id.clone(),
                tenant_id: self.tenant_id,
                client_id: client.id.clone(),
                created_at: now,
                // Sliding, but never beyond the family's absolute end.
                expires_at: keygate_core::grant::refresh_token_expiry(client, grant, now),
                consumed_at: None,
            },
        })
    }
}

/// The end of an exchange's check once the grant itself passed: refused
/// if its person was deleted, else approved for `scope`, with the
/// successor's record if the client's policy gives one for `successor_scope`.
pub(crate) fn approve(
    client: &Client,
    grant: &Grant,
    user: &Option<User>,
    scope: Scope,
    successor_scope: &Scope,
    successor: Successor,
) -> Result<Approved, keygate_core::grant::Refusal> {
    if user.is_none() {
        return Err(person_gone().into());
    }
    let successor = successor.record(client, grant, successor_scope);
    Ok(Approved { scope, successor })
}

/// The refusal of a code or refresh token that is not known (or not of
/// this tenant): the same words either way.
pub(crate) fn not_valid(what: &str) -> OAuthError {
    OAuthError::invalid_grant(format!("the {what} is not valid"))
}

/// What an exchange's `then` sends back to the request: the outcome, and
/// for a won one the minter with the signed tokens.
type Exchanged = keygate_store::Result<(
    Exchange<(Grant, Option<User>)>,
    Option<(Minter, Result<Signed, CryptoError>)>,
)>;

/// Runs an exchange and answers it. `start` hands the store the exchange's
/// `then`, which sends a won exchange from the thread that committed it
/// straight to a signing thread: the request's task wakes once, when its
/// tokens are signed, where it woke for the commit and again for the
/// signatures. Tokens are signed only after the commit, so none exists for a
/// code or refresh token that was not consumed. Any other outcome comes back
/// as it is: its refusal, the revocation of a grant whose code or token was
/// used twice, or `invalid_grant` when there was no such code or token
/// (`what`: "authorization code", ...). `person` takes the grant and its
/// person from what the store found; `token` is the drawn refresh token,
/// issued if its record was stored.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn exchange_and_answer<T, F, Fut>(
    state: &AppState,
    door: &Door,
    client: &Client,
    person: fn(T) -> (Grant, Option<User>),
    start: F,
    now: i64,
    what: &str,
    token: String,
) -> Result<crate::jwt::mint::TokenResponse, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Then<T>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let minter = Minter::new(state, door, client).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<Exchanged>();
    let then: Then<T> = Box::new(move |result| match result.map(|e| e.map(person)) {
        Ok(Exchange::Won((grant, Some(user)), approved)) => crate::signing::submit(move || {
            let subject = Subject::Person {
                user: &user,
                auth_time: grant.auth_time,
                nonce: grant.nonce.as_deref(),
                grant_id: &grant.id,
            };
            let signed = minter.sign(subject, &approved.scope);
            let won = Exchange::Won((grant, Some(user)), approved);
            crate::signing::deliver(move || {
                let _ = tx.send(Ok((won, Some((minter, signed)))));
            });
        }),
        other => {
            let _ = tx.send(other.map(|outcome| (outcome, None)));
        }
    });
    start(then).await;
    let (outcome, signed) = rx
        .await
        .map_err(|_| ApiError::Internal("an exchange ended without an answer".into()))??;
    match (outcome, signed) {
        (Exchange::NotFound, _) => Err(not_valid(what).into()),
        (Exchange::Refused(refusal), _) => Err(refuse(state, client, refusal, now).await),
        (Exchange::Lost((grant, _)), _) => Err(lost(state, &grant, now, what).await),
        (Exchange::Won(_, approved), Some((minter, signed))) => {
            let signed = signed.map_err(|e| ApiError::Internal(e.to_string()))?;
            let refresh = approved.successor.is_some().then_some(token);
            Ok(minter.response(signed, &approved.scope, refresh))
        }
        // Won without its person: the check refuses that, so only a person
        // deleted in between gets here.
        (Exchange::Won(..), None) => Err(person_gone().into()),
    }
}

/// Answers for a consume that lost the race: someone used the code or
/// token first, so (RFC 9700) the grant is revoked and this is refused.
pub(crate) async fn lost(state: &AppState, grant: &Grant, now: i64, what: &str) -> ApiError {
    if let Err(e) = state.store.revoke_grant(&grant.id, now).await {
        return e.into();
    }
    OAuthError::invalid_grant(format!(
        "the {what} was already used; every token of this grant is now revoked"
    ))
    .into()
}
