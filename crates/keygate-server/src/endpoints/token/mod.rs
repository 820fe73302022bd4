//! The token endpoint (RFC 6749 3.2): decode the body, authenticate the
//! client by its registered method, then hand the grant to its own file.

mod assertion;
mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;
mod token_exchange;

use crate::door::Door;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::jwt::mint::{Minted, Minter, Subject};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::basic::decode_basic;
use keygate_core::client_assertion::{self, AssertionError};
use keygate_core::client_auth;
use keygate_core::grant::{self, Credential, Decision, Presented, Refusal};
use keygate_core::model::{Client, Grant, User};
use keygate_core::params::Params;
use keygate_core::token_request::TokenRequest;
use keygate_core::OAuthError;
use keygate_crypto::client_jws;
use keygate_store::{Approved, Exchange, NewRefresh, Then};

/// Authenticates the calling client (token, revocation, introspection,
/// Journeys API); `methods` says whether only its registered method counts.
/// A client assertion's `aud` may be this door's issuer or token endpoint
/// (docs/client-auth.md).
pub(crate) async fn authenticate_client(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: &Params,
    methods: client_auth::Methods,
    now: i64,
) -> Result<Client, ApiError> {
    authenticate_client_at(state, door, headers, p, methods, None, now).await
}

/// [`authenticate_client`] at an endpoint whose own URL a client assertion
/// may also name as its `aud` (a pushed authorization request endpoint,
/// RFC 9126 2).
pub(crate) async fn authenticate_client_at(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: &Params,
    methods: client_auth::Methods,
    endpoint_url: Option<&str>,
    now: i64,
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
    // A client assertion (RFC 7521 4.2): decoded, and its claims read,
    // before anything is looked up.
    let assertion =
        client_assertion::from_params(p.get("client_assertion_type"), p.get("client_assertion"))
            .map_err(OAuthError::from)?
            .map(|token| -> Result<_, OAuthError> {
                let compact = client_jws::split(token).map_err(|e| match e {
                    client_jws::ClientJwsError::Critical => {
                        OAuthError::invalid_client(e.to_string())
                    }
                    _ => AssertionError::Malformed.into(),
                })?;
                let read = client_auth::read_assertion(&compact.alg, &compact.payload)?;
                Ok((compact, read))
            })
            .transpose()?;
    let (compact, read) = match assertion {
        Some((compact, read)) => (Some(compact), Some(read)),
        None => (None, None),
    };
    let presented =
        client_auth::presented(basic, p.get("client_id"), p.get("client_secret"), read)?;
    // Failed authentications count per client id in the store (shared by
    // every node); past the limit, failures are answered 429 with a growing
    // Retry-After. The right secret is never refused: secrets carry 256 bits
    // (nothing to guess), so a lock would only let anyone who knows a public
    // client id lock that client out. Success costs no store access (but an
    // assertion's jti is used once in the store).
    let client = state.client(&door.tenant.id, &presented.client_id).await?;
    let outcome = check_presented(
        state,
        door,
        &presented,
        client.as_ref(),
        compact.as_ref(),
        methods,
        endpoint_url,
        now,
    )
    .await;
    let counted = match outcome {
        Ok(()) => return Ok(client.expect("authenticated clients exist")),
        Err(assertion::Failure::Fault(e)) => return Err(e),
        Err(assertion::Failure::Unavailable(e)) => return Err(e.into()),
        Err(assertion::Failure::Refused(e)) => e,
    };
    // Only registered clients are counted: an unknown id has no secret
    // to guess, and counting it would let anyone add rows at will.
    if (presented.secret.is_some() || presented.assertion.is_some()) && client.is_some() {
        let key = crate::limits::client_auth_key(&door.tenant.id, &presented.client_id);
        let blocked = state
            .store
            .record_failure(&key, now, &state.config.client_auth_limit)
            .await?;
        if let Some(secs) = blocked {
            return Err(ApiError::RateLimited {
                retry_after: secs.max(1) as u64,
                json: true,
            });
        }
    }
    Err(counted.into())
}

/// Whether what the client presented proves it is `client`: the
/// assertion's claims (judged first, whatever the record, so that their
/// refusals say nothing about whether the client exists), the registered
/// method and secret, then the assertion's signature and single use.
#[allow(clippy::too_many_arguments)]
async fn check_presented(
    state: &AppState,
    door: &Door,
    presented: &client_auth::Presented,
    client: Option<&Client>,
    compact: Option<&client_jws::Compact>,
    methods: client_auth::Methods,
    endpoint_url: Option<&str>,
    now: i64,
) -> Result<(), assertion::Failure> {
    use assertion::Failure::Refused;
    let accepted = match &presented.assertion {
        Some(claims) => {
            let audiences = assertion::audiences(door, endpoint_url);
            let expected = client_assertion::Expected {
                client_id: &presented.client_id,
                audiences: &audiences,
                now,
            };
            Some(client_assertion::check(claims, &expected).map_err(|e| Refused(e.into()))?)
        }
        None => None,
    };
    let proof = client_auth::authenticate(
        presented,
        client,
        methods,
        keygate_crypto::secrets::secret_matches,
    )
    .map_err(Refused)?;
    match (proof, client, compact, accepted) {
        (client_auth::Proof::Complete, _, _, _) => Ok(()),
        (client_auth::Proof::Assertion, Some(client), Some(compact), Some(accepted)) => {
            assertion::verify(state, door, client, compact, &accepted, now).await
        }
        _ => Err(assertion::Failure::Fault(ApiError::internal(
            "an assertion to verify without its client or token",
        ))),
    }
}

/// `POST /token`: answers in RFC 6749 JSON, with CORS for the client's
/// registered web origins.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The request's one clock reading: every check and every token of this
    // request is dated by it.
    let now = crate::now();
    let (result, client) = match body {
        Ok(body) => run(&state, &door, &headers, &body.params, now).await,
        Err(e) => (Err(e), None),
    };
    let mut res = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    // A fresh nonce on every answer to a request with a proof (RFC 9449
    // 8.1): the one a `use_dpop_nonce` refusal asks for, and the next one
    // otherwise.
    if crate::dpop::sent(&headers) {
        crate::dpop::add_nonce(&state, &door, &mut res, now);
    }
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
    now: i64,
) -> (Result<Response, ApiError>, Option<Client>) {
    let client = match authenticate_client(
        state,
        door,
        headers,
        p,
        client_auth::Methods::Registered,
        now,
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
    let resource = match keygate_core::resource::named(p) {
        Ok(r) => r.map(str::to_string),
        Err(e) => return (Err(e.into()), Some(client)),
    };
    let dpop = match dpop_proof(state, door, headers, &client, now).await {
        Ok(jkt) => jkt,
        Err(e) => return (Err(e), Some(client)),
    };
    let req = Request {
        state,
        door,
        client: &client,
        now,
        resource,
        dpop,
    };
    let result = issue(&req, p).await;
    (result, Some(client))
}

/// The DPoP proof of a token request (RFC 9449 5), checked and spent: the
/// thumbprint of its key, or `None` when it sent none. A nonce is required
/// (docs/dpop.md); a client registered with `require_dpop` must send a
/// proof.
async fn dpop_proof(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let place = crate::dpop::Place {
        method: &axum::http::Method::POST,
        paths: crate::dpop::TOKEN_PATHS,
        nonce_required: true,
        access_token: None,
    };
    match crate::dpop::proof(state, door, headers, &place, now).await? {
        Ok(Some(proof)) => Ok(Some(proof.jkt)),
        Ok(None) if client.require_dpop => Err(OAuthError::invalid_request(
            "this client must send a DPoP proof (RFC 9449) with every token request",
        )
        .into()),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_oauth().into()),
    }
}

/// One authenticated token request: what every grant's exchange needs.
pub(super) struct Request<'a> {
    state: &'a AppState,
    door: &'a Door,
    client: &'a Client,
    /// The request's one clock reading.
    now: i64,
    /// The API named by `resource` or `audience` (well formed; whether it
    /// exists and fits the grant is each grant's check).
    resource: Option<String>,
    /// The thumbprint of the request's DPoP key (RFC 9449), if it sent a
    /// valid proof: the access token is bound to it.
    dpop: Option<String>,
}

async fn issue(req: &Request<'_>, p: &Params) -> Result<Response, ApiError> {
    let client = req.client;
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
        } => authorization_code::exchange(req, &code, redirect_uri, code_verifier).await?,
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            redirect_uri,
            code_verifier,
        } => {
            refresh_token::exchange(req, &refresh_token, scope, redirect_uri, code_verifier).await?
        }
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::exchange(req, scope.as_ref()).await?
        }
        TokenRequest::DeviceCode { device_code } => {
            device_code::exchange(req, &device_code).await?
        }
        TokenRequest::TokenExchange(exchange) => token_exchange::exchange(req, &exchange).await?,
    };
    metrics::counter!("keygate_tokens_issued_total", "grant" => grant_type).increment(1);
    Ok(response.into_response())
}

/// Commits what a refusal demands (revoking the grant of a replayed code or
/// reused refresh token, or of one whose consume lost a race) and turns it
/// into the answer.
async fn refuse(req: &Request<'_>, refusal: Refusal, credential: Credential) -> ApiError {
    let (state, client) = (req.state, req.client);
    if let Some(id) = &refusal.revoke_grant {
        if let Err(e) = state.store.revoke_grant(id, req.now).await {
            return e.into();
        }
        tracing::warn!(grant = %id, client = %client.id, "code or refresh token used twice; grant revoked");
        reuse_detected(req, id, credential).await;
    }
    refusal.error.into()
}

/// `token.reuse_detected`: by the client, about the grant's person (never
/// the code or token itself).
async fn reuse_detected(req: &Request<'_>, grant_id: &str, credential: Credential) {
    let sub = match req.state.store.get_grant(grant_id).await {
        Ok(g) => g.map(|g| g.user_sub),
        Err(_) => None,
    };
    let credential = match credential {
        Credential::AuthorizationCode => "authorization_code",
        Credential::RefreshToken => "refresh_token",
        Credential::DeviceCode => "device_code",
    };
    let mut event = crate::events::Record::new(
        &req.door.tenant.id,
        "token.reuse_detected",
        format!("client:{}", req.client.id),
    )
    .ip(req.door.client_ip)
    .detail(serde_json::json!({
        "credential": credential,
        "grant_id": grant_id,
        "client_id": req.client.id,
        "grant_revoked": true,
    }));
    if let Some(sub) = sub {
        event = event.subject(format!("user:{sub}"));
    }
    event.save(req.state).await;
}

/// The refresh token an exchange may issue. Its value is drawn before the
/// exchange's check, which decides (by the client's policy for the scope)
/// whether its record is stored with the consume; the value is issued
/// only if it was.
pub(super) struct Drawn {
    hash: String,
}

impl Drawn {
    /// A fresh value, and its hash.
    pub(super) fn draw() -> (String, Drawn) {
        let token = keygate_crypto::secrets::new_refresh_token();
        let hash = keygate_crypto::secrets::refresh_token_key(&token);
        (token, Drawn { hash })
    }

    /// What the store commits for the core's decision: the successor's
    /// record under the drawn value's hash.
    pub(super) fn approve(self, decision: Decision) -> Approved {
        Approved {
            scope: decision.scope,
            successor: decision.successor.map(|token| NewRefresh {
                hash: self.hash,
                token,
            }),
            bind_dpop: decision.bind_dpop,
        }
    }
}

/// What the client presented besides its code or refresh token, owned, so
/// the exchange's check can move to the store's thread.
pub(super) struct Sent {
    pub(super) tenant_id: String,
    pub(super) client: Client,
    pub(super) redirect_uri: Option<String>,
    pub(super) code_verifier: Option<String>,
    pub(super) resource: Option<String>,
    pub(super) now: i64,
    pub(super) dpop: Option<String>,
}

impl Sent {
    /// What `req` sent with `redirect_uri` and `code_verifier`.
    pub(super) fn of(
        req: &Request<'_>,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    ) -> Sent {
        Sent {
            tenant_id: req.door.tenant.id.clone(),
            client: req.client.clone(),
            redirect_uri,
            code_verifier,
            resource: req.resource.clone(),
            now: req.now,
            dpop: req.dpop.clone(),
        }
    }

    /// The core's view of it.
    pub(super) fn presented(&self) -> Presented<'_> {
        Presented {
            tenant_id: &self.tenant_id,
            client: &self.client,
            redirect_uri: self.redirect_uri.as_deref(),
            code_verifier: self.code_verifier.as_deref(),
            resource: self.resource.as_deref(),
            now: self.now,
            dpop_jkt: self.dpop.as_deref(),
        }
    }
}

/// What an exchange's `then` sends back to the request: the signed tokens
/// of a won exchange (and whether its refresh token was stored), or any
/// other outcome as it is.
// The signed answer is the common case: boxing it would add an allocation
// to every token request for nothing.
#[allow(clippy::large_enum_variant)]
enum Answer {
    Signed(Minted, bool),
    /// Boxed: refusals are rare, and the grant with its person is large.
    Other(Box<Exchange<(Grant, Option<User>)>>),
}

/// Runs an exchange and answers it. `start` hands the store the exchange's
/// `then`, which sends a won exchange from the thread that committed it
/// straight to a signing thread: the request's task wakes once, when its
/// tokens are signed, where it woke for the commit and again for the
/// signatures. Tokens are signed only after the commit, so none exists for a
/// code or refresh token that was not consumed. Every other outcome is
/// answered with the core's refusal. `person` takes the grant and its
/// person from what the store found; `token` is the drawn refresh token,
/// issued if its record was stored.
async fn exchange_and_answer<T, F, Fut>(
    req: &Request<'_>,
    person: fn(T) -> (Grant, Option<User>),
    start: F,
    credential: Credential,
    token: String,
) -> Result<crate::jwt::mint::TokenResponse, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Then<T>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let minter = Minter::new(req.state, req.door, req.client, req.now)
        .await?
        .bound_to(req.dpop.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<keygate_store::Result<Answer>>();
    let then: Then<T> = Box::new(move |result| match result.map(|e| e.map(person)) {
        Ok(Exchange::Won((grant, Some(user)), approved)) => {
            let subject = Subject::Person {
                user,
                auth_time: grant.auth_time,
                nonce: grant.nonce,
                grant_id: grant.id,
                amr: grant.amr,
                acr: grant.acr,
                resource: grant.resource,
                claims: grant.claims,
                sid: grant.session.map(|s| s.sid),
            };
            let refresh = approved.successor.is_some();
            minter.sign_then(subject, approved.scope, move |minted| {
                let _ = tx.send(Ok(Answer::Signed(minted, refresh)));
            });
        }
        other => {
            let _ = tx.send(other.map(|e| Answer::Other(Box::new(e))));
        }
    });
    start(then).await;
    let answer = rx
        .await
        .map_err(|_| ApiError::internal("an exchange ended without an answer"))??;
    let refusal = match answer {
        Answer::Other(other) => match *other {
            Exchange::NotFound => grant::unknown(credential),
            Exchange::Refused(refusal) => refusal,
            Exchange::Lost((lost, _)) => grant::lost_race(&lost, credential),
            // Won without its person: the core refuses that, so only a
            // person deleted in between gets here.
            Exchange::Won(..) => grant::person_gone(),
        },
        Answer::Signed((minter, scope, signed), refresh) => {
            let signed = signed.map_err(|e| ApiError::fault("signing the tokens failed", e))?;
            let refresh = refresh.then_some(token);
            return Ok(minter.response(signed, &scope, refresh));
        }
    };
    Err(refuse(req, refusal, credential).await)
}
