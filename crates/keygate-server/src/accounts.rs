//! Sign-in, registration, sessions and authorization codes: the one code
//! path behind both the hosted pages and the Journeys API. The two front
//! ends only read their input and write their output differently.

use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::limits;
use crate::AppState;
use axum::http::HeaderMap;
use keygate_core::authorize::AuthorizeRequest;
use keygate_core::model::{Grant, Registration, Session, User, SESSION_TTL};
use keygate_core::validate::{self, PasswordProblem};
use keygate_core::OAuthError;
use keygate_crypto::{password, secrets};

pub use crate::now;

/// Why a sign-in or registration was refused, in the user's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountError {
    /// Wrong e-mail or password; deliberately the same for both.
    InvalidCredentials,
    /// A wrong (or already used) code of an authenticator app, or recovery code.
    InvalidCode,
    /// Registration with an address that already has an account in the tenant.
    EmailTaken,
    /// A password shorter than 8 characters.
    WeakPassword,
    /// A password over 1024 bytes: the bound keeps hashing hostile input cheap.
    PasswordTooLong,
    /// An e-mail address that is not valid.
    InvalidEmail,
    /// A name over 200 characters or with control characters.
    InvalidName,
    /// Too many failed attempts: blocked for this many seconds.
    TooManyAttempts(i64),
    /// The right password for a disabled account (said only to whoever
    /// knows the password).
    Disabled,
    /// Too many registrations from this IP: blocked for this many seconds.
    TooManyRegistrations(i64),
    /// The tenant's registration is closed (docs/cli.md `--registration`):
    /// only administrators create users.
    RegistrationClosed,
}

impl AccountError {
    /// The Journeys API's error code for this refusal (the `error` member).
    pub fn code(self) -> &'static str {
        match self {
            AccountError::InvalidCredentials => "invalid_credentials",
            AccountError::InvalidCode => "invalid_code",
            AccountError::EmailTaken => "email_taken",
            AccountError::WeakPassword | AccountError::PasswordTooLong => "weak_password",
            AccountError::InvalidEmail => "invalid_email",
            AccountError::InvalidName => "invalid_request",
            AccountError::Disabled => "account_disabled",
            AccountError::RegistrationClosed => "registration_closed",
            AccountError::TooManyAttempts(_) | AccountError::TooManyRegistrations(_) => {
                "too_many_attempts"
            }
        }
    }

    /// Seconds to wait, for the refusals that are rate limits (429).
    pub fn retry_after(self) -> Option<i64> {
        match self {
            AccountError::TooManyAttempts(s) | AccountError::TooManyRegistrations(s) => {
                Some(s.max(1))
            }
            _ => None,
        }
    }

    /// The sentence shown to the person, on the hosted pages and as the Journeys API's
    /// `error_description`.
    pub fn message(self) -> String {
        match self {
            AccountError::InvalidCredentials => {
                "The e-mail address or password is incorrect.".into()
            }
            AccountError::InvalidCode => {
                "The code is incorrect. Enter the current code from your authenticator app, or an unused recovery code.".into()
            }
            AccountError::EmailTaken => {
                "An account with this e-mail address already exists. Sign in instead.".into()
            }
            AccountError::WeakPassword => "The password must be at least 8 characters long.".into(),
            AccountError::PasswordTooLong => {
                "The password must be at most 1024 characters long.".into()
            }
            AccountError::InvalidEmail => {
                "Enter a valid e-mail address, like name@example.com.".into()
            }
            AccountError::InvalidName => {
                "The name must be at most 200 characters, without control characters.".into()
            }
            AccountError::Disabled => {
                "This account is disabled. Contact the administrator of this service.".into()
            }
            AccountError::TooManyAttempts(secs) => {
                format!("Too many failed sign-in attempts. Try again in {secs} seconds.")
            }
            AccountError::TooManyRegistrations(secs) => {
                format!("Too many accounts were created from this network. Try again in {secs} seconds.")
            }
            AccountError::RegistrationClosed => {
                "Registration is closed: this service does not accept new accounts. \
                 Ask its administrator for one."
                    .into()
            }
        }
    }
}

/// Checks an e-mail and password. Argon2id runs on the blocking pool, one
/// per core at most; an unknown e-mail is checked against a dummy hash so
/// both failures cost the same time.
///
/// Attempts count against the account and the caller's IP in the store (so
/// every node sees them), and each is *reserved* there before the password
/// is checked: one statement counts it and refuses it past the limit, so
/// parallel guesses cannot all get a verdict before the first failure is
/// written. A success forgets the account's failures and takes its attempt
/// back from the IP's count.
pub async fn sign_in(
    state: &AppState,
    door: &Door,
    email: &str,
    password: &str,
) -> Result<Result<User, AccountError>, ApiError> {
    let tenant = door.tenant.id.as_str();
    let account = limits::account_key(tenant, email);
    let ip = door.client_ip.map(limits::ip_key);
    let account_limit = &state.config.signin_account_limit;
    let ip_limit = &state.config.signin_ip_limit;
    let reserved = match limits::reserve_both(
        state,
        (&account, account_limit),
        ip.as_deref().map(|k| (k, ip_limit)),
    )
    .await?
    {
        Ok(r) => r,
        Err(secs) => {
            metrics::counter!("keygate_signins_total", "result" => "blocked").increment(1);
            sign_in_failed(state, door, "too_many_attempts").await;
            return Ok(Err(AccountError::TooManyAttempts(secs)));
        }
    };
    let result = check_password(state, tenant, email, password).await?;
    if let Err(e) = &result {
        sign_in_failed(state, door, e.code()).await;
    }
    let outcome = if result.is_ok() { "success" } else { "failure" };
    metrics::counter!("keygate_signins_total", "result" => outcome).increment(1);
    let now = now();
    match &result {
        Ok(_) => {
            state.store.clear_failures(&account).await?;
            if let Some(k) = &ip {
                state.store.release_attempt(k, ip_limit).await?;
            }
        }
        Err(_) => {
            state
                .store
                .attempt_failed(&account, reserved.0, now, account_limit)
                .await?;
            if let (Some(k), Some(count)) = (&ip, reserved.1) {
                state.store.attempt_failed(k, count, now, ip_limit).await?;
            }
        }
    }
    Ok(result)
}

/// `user.sign_in_failed`, with the reason only: no e-mail address (it
/// would tell who is being attacked) and no password.
async fn sign_in_failed(state: &AppState, door: &Door, reason: &str) {
    crate::events::Record::new(&door.tenant.id, "user.sign_in_failed", "anonymous")
        .ip(door.client_ip)
        .detail(serde_json::json!({ "reason": reason }))
        .save(state)
        .await;
}

async fn check_password(
    state: &AppState,
    tenant: &str,
    email: &str,
    password: &str,
) -> Result<Result<User, AccountError>, ApiError> {
    let email = validate::normalize_email(email);
    let user = match &email {
        Some(e) => state.store.user_by_email(tenant, e).await?,
        None => None,
    };
    // An account made through an upstream has no password (an empty
    // hash): it is checked against the dummy hash like an unknown e-mail,
    // so both cost the same time and neither can be signed in to.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .filter(|h| !h.is_empty());
    let pw = password.to_string();
    let ok = crate::signing::run_password(move || match hash {
        Some(h) => password::verify_password(&pw, &h),
        None => {
            password::verify_password(&pw, password::dummy_hash());
            false
        }
    })
    .await?;
    Ok(match user {
        Some(u) if ok && password.len() <= validate::MAX_PASSWORD_LEN && u.disabled => {
            Err(AccountError::Disabled)
        }
        Some(u) if ok && password.len() <= validate::MAX_PASSWORD_LEN => Ok(u),
        _ => Err(AccountError::InvalidCredentials),
    })
}

/// Creates an account through the one path the CLI and the admin API use
/// too (checks of e-mail, password and name, then the insert); nothing is
/// written when any check fails. Refusals come back in the user's terms.
///
/// Every attempt counts against the caller's IP (successful or not: each
/// account is a row that nobody authenticated), so one address cannot fill
/// the store with accounts. A new account gets the verification message
/// when the tenant's `verify_email` is not `off`; whether it may go on to
/// a code is the caller's question ([`crate::email_verification::blocks`]).
pub async fn register(
    state: &AppState,
    door: &Door,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<Result<User, AccountError>, ApiError> {
    use crate::provisioning::{self as provision, NewUser, ProvisionError};
    let tenant = door.tenant.id.as_str();
    if door.tenant.registration == Registration::Closed {
        return Ok(Err(AccountError::RegistrationClosed));
    }
    if let Some(ip) = door.client_ip {
        let key = limits::register_ip_key(ip);
        if let Err(secs) = limits::reserve(state, &key, &state.config.register_ip_limit).await? {
            return Ok(Err(AccountError::TooManyRegistrations(secs)));
        }
    }
    let spec = NewUser {
        email: email.to_string(),
        password: password.to_string(),
        name: name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        ..NewUser::default()
    };
    match provision::create_user(state.store.as_ref(), tenant, &spec).await {
        Ok(user) => {
            crate::events::by_user(
                state,
                door,
                "user.registered",
                &user.sub,
                serde_json::json!({"through": "password"}),
            )
            .await;
            // The verification message, unless the tenant's verify_email is
            // off (docs/account.md, "Verifying the e-mail address").
            crate::email_verification::after_registration(state, door, &user).await;
            Ok(Ok(user))
        }
        Err(ProvisionError::Invalid {
            field: Some("email"),
            ..
        }) => Ok(Err(AccountError::InvalidEmail)),
        Err(ProvisionError::Invalid {
            field: Some("password"),
            ..
        }) => Ok(Err(match validate::check_password(password) {
            Err(PasswordProblem::TooLong) => AccountError::PasswordTooLong,
            _ => AccountError::WeakPassword,
        })),
        Err(ProvisionError::Invalid {
            field: Some("name"),
            ..
        }) => Ok(Err(AccountError::InvalidName)),
        Err(ProvisionError::Conflict(_)) => Ok(Err(AccountError::EmailTaken)),
        Err(ProvisionError::Store(e)) => Err(ApiError::fault("registration failed", e)),
        Err(e) => Err(ApiError::internal(format!(
            "registration failed: {}",
            e.describe(crate::provisioning::Front::Api)
        ))),
    }
}

/// The live session of this tenant from the request's cookie, if any.
pub async fn current_session(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
) -> Result<Option<(String, Session)>, ApiError> {
    let name = cookies::session_name(state.config.https(), &door.tenant.id);
    let Some(raw) = cookies::read(headers, &name) else {
        return Ok(None);
    };
    let hash = secrets::sha256_hex(&raw);
    let session = state.store.get_session(&hash).await?;
    Ok(session
        .filter(|s| s.tenant_id == door.tenant.id && s.expires_at > now())
        .map(|s| (hash, s)))
}

/// Starts a session for a person who just proved who they are, ending the
/// one the browser had (no session fixation). Returns the Set-Cookie value.
pub async fn start_session(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    user_sub: &str,
    auth_time: i64,
    amr: &[String],
) -> Result<String, ApiError> {
    Ok(open_session(state, door, headers, user_sub, auth_time, amr)
        .await?
        .0)
}

/// [`start_session`], returning the Set-Cookie value and the session's
/// `sid` (Back-Channel Logout 2.1). The cookie is always new. The same
/// person signing in again in this browser (re-authentication, a step-up)
/// continues the session under it and keeps its `sid`, so the applications
/// signed in with it stay so; another person's session in this browser
/// ends, and its applications are told (docs/logout.md).
pub async fn open_session(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    user_sub: &str,
    auth_time: i64,
    amr: &[String],
) -> Result<(String, String), ApiError> {
    let sid = match current_session(state, door, headers).await? {
        Some((old, s)) if s.user_sub == user_sub => {
            state.store.delete_session(&old).await?;
            s.sid
        }
        Some((old, _)) => {
            state.store.end_session(&old, now()).await?;
            new_sid()
        }
        None => new_sid(),
    };
    let raw = secrets::new_secret();
    let session = Session {
        tenant_id: door.tenant.id.clone(),
        user_sub: user_sub.to_string(),
        auth_time,
        expires_at: auth_time + SESSION_TTL,
        ip: door.client_ip.map(|ip| ip.to_string()),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(200).collect()),
        amr: amr.to_vec(),
        sid,
    };
    state
        .store
        .create_session(&secrets::sha256_hex(&raw), &session)
        .await?;
    let https = state.config.https();
    let cookie = cookies::set(
        https,
        &cookies::session_name(https, &door.tenant.id),
        &raw,
        Some(SESSION_TTL),
    );
    Ok((cookie, session.sid))
}

/// A new session's `sid`: 128 random bits, drawn apart from the cookie, so
/// it tells an application nothing about the cookie.
fn new_sid() -> String {
    secrets::random_token(16)
}

/// Records the first use of a registered client (RFC 7591), so the
/// sweeper keeps it; one cached read for every other client.
pub(crate) async fn mark_used(
    state: &AppState,
    door: &Door,
    client_id: &str,
) -> Result<(), ApiError> {
    if let Some(c) = state.client(&door.tenant.id, client_id).await? {
        if c.registration_token_hash.is_some() && c.first_used_at.is_none() {
            state
                .store
                .mark_client_used(&door.tenant.id, client_id, now())
                .await?;
            state
                .clients
                .remove(&(door.tenant.id.clone(), client_id.to_string()));
        }
    }
    Ok(())
}

/// Issues an authorization code for a validated request and returns the
/// code and the URL that sends it to the application (RFC 6749 4.1.2, with
/// `iss` per RFC 9207). `sid` is the session's the code is issued from
/// (`None` without one, as in the Journeys API): the grant keeps it for
/// its id_tokens and back-channel logout. Past the cap on a person's outstanding codes for
/// the client, the answer is 429 (JSON when `as_json`, else a page) until
/// codes are redeemed or expire.
#[allow(clippy::too_many_arguments)]
pub async fn issue_code(
    state: &AppState,
    door: &Door,
    req: &AuthorizeRequest,
    user_sub: &str,
    auth_time: i64,
    amr: &[String],
    sid: Option<&str>,
    as_json: bool,
) -> Result<(String, String), ApiError> {
    let code = secrets::new_secret();
    let now = now();
    // A pushed request gives one code (RFC 9126 7.3).
    if let Some(hash) = &req.pushed {
        if !state.store.use_pushed_request(hash, now).await? {
            let message = "This sign-in request was already used or has expired: \
                 go back to the application and start again.";
            return Err(if as_json {
                OAuthError::invalid_request(message).into()
            } else {
                ApiError::Page {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    tenant_name: door.tenant.display_name.clone(),
                    message: message.into(),
                }
            });
        }
    }
    mark_used(state, door, &req.client_id).await?;
    let grant = Grant {
        id: secrets::new_ordered_id(),
        tenant_id: door.tenant.id.clone(),
        client_id: req.client_id.clone(),
        user_sub: user_sub.to_string(),
        scope: req.scope.to_string(),
        auth_time,
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        code_challenge_method: req.code_challenge_method,
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_sent: req.redirect_uri_sent,
        created_at: now,
        code_expires_at: now + state.config.code_ttl,
        code_consumed_at: None,
        revoked_at: None,
        amr: amr.to_vec(),
        // The value asked for, once the sign-in satisfied it.
        acr: req
            .acr_mfa
            .filter(|_| keygate_core::amr::amr_is_multi_factor(amr))
            .map(str::to_string),
        resource: req.resource.clone(),
        claims: req.claims.clone(),
        session: sid.map(|sid| keygate_core::model::GrantSession {
            sid: sid.to_string(),
            issuer: door.issuer.clone(),
        }),
        dpop_jkt: req.dpop_jkt.clone(),
    };
    let stored = state
        .store
        .create_grant(
            &grant,
            &secrets::sha256_hex(&code),
            state.config.max_outstanding_codes,
        )
        .await?;
    if !stored {
        return Err(ApiError::RateLimited {
            retry_after: state.config.code_ttl.max(1) as u64,
            json: as_json,
        });
    }
    let to = keygate_core::redirect::with_query(&req.redirect_uri, &code_params(door, req, &code));
    Ok((code, to))
}

/// The parameters of the authorization response carrying `code`: the
/// code, the request's `state`, and the issuer (RFC 6749 4.1.2, RFC 9207).
pub fn code_params<'a>(
    door: &'a Door,
    req: &'a AuthorizeRequest,
    code: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let mut params = vec![("code", code)];
    if let Some(s) = &req.state {
        params.push(("state", s));
    }
    params.push(("iss", &door.issuer));
    params
}
