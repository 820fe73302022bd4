//! Password reset, shared by the hosted pages (`pages/reset.rs`) and the
//! Journeys API (`POST /journeys/password-reset`).
//!
//! A request is answered the same way whether or not the account exists:
//! on the request's path both cases do the same work (the rate-limit
//! reservations in the store); looking the person up, storing the link and
//! queueing the message happen afterwards, in a task of their own. The link
//! (`{issuer}/reset-password?token=...`, under the issuer the person used)
//! carries a 256-bit random token of which only the SHA-256 is stored; it
//! works once and for `KEYGATE_PASSWORD_RESET_TTL` (30 minutes). Using it
//! sets the password and, in the same transaction, ends the person's
//! sessions and revokes their grants ([`keygate_store::ResetStore`]).

use crate::door::Door;
use crate::error::ApiError;
use crate::limits;
use crate::AppState;
use keygate_core::model::User;
use keygate_core::validate::{self, PasswordProblem};
use keygate_crypto::secrets;
use keygate_store::ResetLink;

/// How a reset request was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requested {
    /// A message goes out if the account exists (and is not disabled).
    Accepted,
    /// Too many requests for this address or from this IP: nothing is
    /// sent; try again in this many seconds.
    Limited(i64),
}

/// Takes a reset request for `email`: reserves it against the address's
/// and the IP's limits, then (off the request's path) sends the message if
/// the account exists.
pub(crate) async fn request(
    state: &AppState,
    door: &Door,
    email: &str,
) -> Result<Requested, ApiError> {
    let account = limits::email_key("reset", &door.tenant.id, email);
    let ip = door.client_ip.map(|ip| limits::kind_ip_key("reset", ip));
    let reserved = limits::reserve_both(
        state,
        (&account, &state.config.reset_account_limit),
        ip.as_deref().map(|k| (k, &state.config.reset_ip_limit)),
    )
    .await?;
    if let Err(secs) = reserved {
        metrics::counter!("keygate_password_reset_requests_total", "result" => "limited")
            .increment(1);
        return Ok(Requested::Limited(secs.max(1)));
    }
    metrics::counter!("keygate_password_reset_requests_total", "result" => "accepted").increment(1);
    let (state, door, email) = (state.clone(), door.clone(), email.to_string());
    tokio::spawn(async move {
        if let Err(e) = send_link(&state, &door, &email).await {
            tracing::error!(tenant = %door.tenant.id, error = ?e, "password reset message not queued");
        }
    });
    Ok(Requested::Accepted)
}

/// Stores a new link for the account of `email`, if there is one that may
/// sign in, and queues its message.
async fn send_link(state: &AppState, door: &Door, email: &str) -> Result<(), ApiError> {
    let user = match validate::normalize_email(email) {
        Some(email) => state.store.user_by_email(&door.tenant.id, &email).await?,
        None => None,
    };
    // Recorded here, off the request's path, so that whether the account
    // exists (the event's subject) shows in no answer or its timing. The
    // address itself is never recorded.
    let mut event = crate::events::Record::new(
        &door.tenant.id,
        "user.password_reset_requested",
        "anonymous",
    )
    .ip(door.client_ip);
    if let Some(u) = &user {
        event = event.subject(format!("user:{}", u.sub));
    }
    event.save(state).await;
    let Some(user) = user else {
        return Ok(());
    };
    if user.disabled {
        return Ok(());
    }
    let token = secrets::new_secret();
    let now = crate::now();
    let ttl = state.config.reset_ttl;
    state
        .store
        .create_reset_link(
            &secrets::sha256_hex(&token),
            &ResetLink {
                tenant_id: door.tenant.id.clone(),
                user_sub: user.sub.clone(),
                created_at: now,
                expires_at: now + ttl,
                used_at: None,
            },
        )
        .await?;
    let link = keygate_core::redirect::with_query(
        &door.url("/reset-password"),
        &[("token", token.as_str())],
    );
    let message = crate::mail::templates::password_reset(&door.tenant.display_name, &link, ttl)
        .map_err(|e| ApiError::fault("rendering a mail template failed", e))?;
    let id = state
        .mailer
        .queue(state.store.as_ref(), &door.tenant.id, &user.email, message)
        .await?;
    tracing::info!(tenant = %door.tenant.id, sub = %user.sub, mail_id = %id, "password reset link queued");
    Ok(())
}

/// Why a link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkProblem {
    /// Not a token we could have made.
    Malformed,
    /// Unknown, of another tenant, expired, used, or its person is gone
    /// or disabled: one answer for all.
    Invalid,
}

impl LinkProblem {
    pub(crate) fn message(self) -> &'static str {
        match self {
            LinkProblem::Malformed => {
                "This password-reset link is incomplete. Open the link from the message exactly as it was sent, or ask for a new one."
            }
            LinkProblem::Invalid => {
                "This password-reset link has expired or was already used. Ask for a new one."
            }
        }
    }
}

/// The person a live link of this tenant belongs to.
pub(crate) async fn check_link(
    state: &AppState,
    door: &Door,
    token: Option<&str>,
) -> Result<Result<(String, User), LinkProblem>, ApiError> {
    let Some(token) = token.filter(|t| secrets::is_well_formed_secret(t)) else {
        return Ok(Err(LinkProblem::Malformed));
    };
    let hash = secrets::sha256_hex(token);
    let Some(link) = state.store.reset_link(&hash).await? else {
        return Ok(Err(LinkProblem::Invalid));
    };
    if link.tenant_id != door.tenant.id || link.used_at.is_some() || link.expires_at <= crate::now()
    {
        return Ok(Err(LinkProblem::Invalid));
    }
    match state
        .store
        .get_user(&door.tenant.id, &link.user_sub)
        .await?
    {
        Some(user) if !user.disabled => Ok(Ok((hash, user))),
        _ => Ok(Err(LinkProblem::Invalid)),
    }
}

/// Why a new password was not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetError {
    Link(LinkProblem),
    /// The same rules as registration.
    Password(PasswordProblem),
    /// The confirmation differs from the password.
    Mismatch,
}

impl ResetError {
    pub(crate) fn message(self) -> String {
        match self {
            ResetError::Link(p) => p.message().into(),
            ResetError::Password(PasswordProblem::TooShort) => format!(
                "The password must be at least {} characters long.",
                validate::MIN_PASSWORD_LEN
            ),
            ResetError::Password(PasswordProblem::TooLong) => format!(
                "The password must be at most {} characters long.",
                validate::MAX_PASSWORD_LEN
            ),
            ResetError::Mismatch => "The two passwords differ. Type the same one twice.".into(),
        }
    }
}

/// Sets a new password through a link: checks the link and the password
/// (registration's rules), hashes it (Argon2id, on the blocking pool), and
/// uses the link, which in the same transaction sets the password, ends
/// the person's sessions and revokes their grants. Of racing submissions
/// of one link exactly one wins.
pub(crate) async fn complete(
    state: &AppState,
    door: &Door,
    token: Option<&str>,
    password: &str,
    confirmation: Option<&str>,
) -> Result<Result<User, ResetError>, ApiError> {
    let (hash, user) = match check_link(state, door, token).await? {
        Ok(v) => v,
        Err(p) => return Ok(Err(ResetError::Link(p))),
    };
    if let Err(p) = validate::check_password(password) {
        return Ok(Err(ResetError::Password(p)));
    }
    if confirmation.is_some_and(|c| c != password) {
        return Ok(Err(ResetError::Mismatch));
    }
    let pw = password.to_string();
    let password_hash =
        crate::signing::run_password(move || keygate_crypto::password::hash_password(&pw)).await?;
    let won = state
        .store
        .use_reset_link(
            &hash,
            &door.tenant.id,
            &user.sub,
            &password_hash,
            crate::now(),
        )
        .await?;
    if !won {
        return Ok(Err(ResetError::Link(LinkProblem::Invalid)));
    }
    crate::backchannel::wake();
    crate::events::by_user(
        state,
        door,
        "user.password_reset",
        &user.sub,
        serde_json::json!({"sessions_ended": true, "grants_revoked": true}),
    )
    .await;
    metrics::counter!("keygate_password_resets_total").increment(1);
    tracing::info!(tenant = %door.tenant.id, sub = %user.sub, "password reset: password set, sessions ended, grants revoked");
    Ok(Ok(user))
}
