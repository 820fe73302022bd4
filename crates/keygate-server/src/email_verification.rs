//! E-mail verification (docs/account.md, "Verifying the e-mail address"),
//! shared by the hosted pages (`pages/verify.rs`) and the Journeys API.
//!
//! When the tenant's `verify_email` is not `off`, registration queues a
//! message whose link (`{issuer}/verify-email?token=...`, under the issuer
//! the person used) carries a 256-bit random token of which only the
//! SHA-256 is stored ([`keygate_store::EmailLinkStore`]); it works once and
//! for `KEYGATE_VERIFY_EMAIL_TTL` (24 hours). Opening it shows a form with
//! one button, so that mail scanners that fetch links do not use it up;
//! submitting the form uses the link, which marks the address verified in
//! the same write, if it still is the person's.
//!
//! With `required`, a person whose address is not verified cannot finish a
//! sign-in ([`blocks`]); they may ask for the message again ([`resend`]),
//! rate limited per address and per IP, with the same answer whether or not
//! the account exists.

use crate::door::Door;
use crate::error::ApiError;
use crate::limits;
use crate::AppState;
use keygate_core::model::{User, VerifyEmail};
use keygate_core::validate;
use keygate_crypto::secrets;
use keygate_store::{EmailLink, EmailLinkPurpose, StoreError};

/// Whether this tenant keeps a person with an unverified address from
/// finishing a sign-in (`--verify-email required`).
pub(crate) fn blocks(door: &Door, user: &User) -> bool {
    door.tenant.verify_email == VerifyEmail::Required && !user.email_verified
}

/// What `error_description` and the pages say to a person who must verify
/// their address first.
pub(crate) const NOT_VERIFIED: &str = "Verify your e-mail address first: open the link in the message we sent you. You can ask for a new message.";

/// After a registration: queues the verification message unless the
/// tenant's `verify_email` is `off` (or the address is already verified).
/// A failure to queue is logged, not answered: the account exists, and the
/// person can ask for the message again.
pub(crate) async fn after_registration(state: &AppState, door: &Door, user: &User) {
    if door.tenant.verify_email == VerifyEmail::Off || user.email_verified {
        return;
    }
    if let Err(e) = send_link(state, door, user).await {
        tracing::error!(tenant = %door.tenant.id, sub = %user.sub, error = ?e, "verification message not queued");
    }
}

/// Stores a new verification link for the person's current address and
/// queues its message.
async fn send_link(state: &AppState, door: &Door, user: &User) -> Result<(), ApiError> {
    let (link, ttl) = new_link(state, door, user, &user.email, EmailLinkPurpose::Verify).await?;
    let message =
        crate::mail::templates::verify_email(&door.tenant.display_name, &user.email, &link, ttl)
            .map_err(|e| ApiError::fault("rendering a mail template failed", e))?;
    let id = state
        .mailer
        .queue(state.store.as_ref(), &door.tenant.id, &user.email, message)
        .await?;
    metrics::counter!("keygate_email_verification_messages_total").increment(1);
    tracing::info!(tenant = %door.tenant.id, sub = %user.sub, mail_id = %id, "e-mail verification link queued");
    Ok(())
}

/// A change of address asked for on the account page (docs/account.md,
/// "Changing the e-mail address"): a link to `new_email` that makes it the
/// person's address once opened (the same `/verify-email` page), and a
/// notice to the current address.
pub(crate) async fn request_change(
    state: &AppState,
    door: &Door,
    user: &User,
    new_email: &str,
) -> Result<(), ApiError> {
    let (link, ttl) = new_link(state, door, user, new_email, EmailLinkPurpose::Change).await?;
    let name = &door.tenant.display_name;
    let to_new = crate::mail::templates::email_change(name, new_email, &link, ttl)
        .map_err(|e| ApiError::fault("rendering a mail template failed", e))?;
    let to_old =
        crate::mail::templates::email_change_notice(name, new_email, &door.url("/account"))
            .map_err(|e| ApiError::fault("rendering a mail template failed", e))?;
    let store = state.store.as_ref();
    state
        .mailer
        .queue(store, &door.tenant.id, new_email, to_new)
        .await?;
    state
        .mailer
        .queue(store, &door.tenant.id, &user.email, to_old)
        .await?;
    tracing::info!(tenant = %door.tenant.id, sub = %user.sub, "e-mail change link and notice queued");
    Ok(())
}

/// Stores a new link of `purpose` for `email` and returns its absolute URL
/// (under the issuer the person used) and its lifetime.
async fn new_link(
    state: &AppState,
    door: &Door,
    user: &User,
    email: &str,
    purpose: EmailLinkPurpose,
) -> Result<(String, i64), ApiError> {
    let token = secrets::new_secret();
    let now = crate::now();
    let ttl = state.config.verify_email_ttl;
    state
        .store
        .create_email_link(
            &secrets::sha256_hex(&token),
            &EmailLink {
                tenant_id: door.tenant.id.clone(),
                user_sub: user.sub.clone(),
                email: email.to_string(),
                purpose,
                created_at: now,
                expires_at: now + ttl,
                used_at: None,
            },
        )
        .await?;
    let link = keygate_core::redirect::with_query(
        &door.url("/verify-email"),
        &[("token", token.as_str())],
    );
    Ok((link, ttl))
}

/// How a request to send the message again was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resent {
    /// A message goes out if the account exists, may sign in and is not
    /// verified yet.
    Accepted,
    /// Too many requests for this address or from this IP: nothing is
    /// sent; try again in this many seconds.
    Limited(i64),
}

/// Takes a request to send the verification message again to `email`:
/// reserves it against the address's and the IP's limits, then (off the
/// request's path, so the answer takes the same time either way) sends it
/// if the account exists and is unverified.
pub(crate) async fn resend(state: &AppState, door: &Door, email: &str) -> Result<Resent, ApiError> {
    let account = limits::email_key("verify", &door.tenant.id, email);
    let ip = door.client_ip.map(|ip| limits::kind_ip_key("verify", ip));
    let reserved = limits::reserve_both(
        state,
        (&account, &state.config.verify_resend_account_limit),
        ip.as_deref()
            .map(|k| (k, &state.config.verify_resend_ip_limit)),
    )
    .await?;
    if let Err(secs) = reserved {
        metrics::counter!("keygate_email_verification_resends_total", "result" => "limited")
            .increment(1);
        return Ok(Resent::Limited(secs.max(1)));
    }
    metrics::counter!("keygate_email_verification_resends_total", "result" => "accepted")
        .increment(1);
    let (state, door, email) = (state.clone(), door.clone(), email.to_string());
    tokio::spawn(async move {
        let result = async {
            if door.tenant.verify_email == VerifyEmail::Off {
                return Ok(());
            }
            let Some(email) = validate::normalize_email(&email) else {
                return Ok(());
            };
            match state.store.user_by_email(&door.tenant.id, &email).await? {
                Some(user) if !user.disabled && !user.email_verified => {
                    send_link(&state, &door, &user).await
                }
                _ => Ok(()),
            }
        }
        .await;
        if let Err(e) = result {
            tracing::error!(tenant = %door.tenant.id, error = ?e, "verification message not queued");
        }
    });
    Ok(Resent::Accepted)
}

/// Why a link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkProblem {
    /// Not a token we could have made.
    Malformed,
    /// Unknown, of another tenant, expired, used, or its person is gone or
    /// has another address now: one answer for all.
    Invalid,
    /// A change of address whose new address another account took
    /// meanwhile.
    Taken,
}

impl LinkProblem {
    /// What the error page says.
    pub(crate) fn message(self) -> &'static str {
        match self {
            LinkProblem::Malformed => {
                "This verification link is incomplete. Open the link from the message exactly as it was sent."
            }
            LinkProblem::Invalid => {
                "This verification link has expired or was already used. Sign in to ask for a new one."
            }
            LinkProblem::Taken => "Another account uses this e-mail address now.",
        }
    }
}

/// The hash and the record of a live link of this tenant.
pub(crate) async fn check_link(
    state: &AppState,
    door: &Door,
    token: Option<&str>,
) -> Result<Result<(String, EmailLink), LinkProblem>, ApiError> {
    let Some(token) = token.filter(|t| secrets::is_well_formed_secret(t)) else {
        return Ok(Err(LinkProblem::Malformed));
    };
    let hash = secrets::sha256_hex(token);
    match state.store.email_link(&hash).await? {
        Some(link)
            if link.tenant_id == door.tenant.id
                && link.used_at.is_none()
                && link.expires_at > crate::now() =>
        {
            Ok(Ok((hash, link)))
        }
        _ => Ok(Err(LinkProblem::Invalid)),
    }
}

/// Uses a link: of racing submissions exactly one wins; the address is
/// verified (or, for a change of address, becomes the person's) in the
/// same write.
pub(crate) async fn complete(
    state: &AppState,
    door: &Door,
    token: Option<&str>,
) -> Result<Result<EmailLink, LinkProblem>, ApiError> {
    let (hash, _) = match check_link(state, door, token).await? {
        Ok(v) => v,
        Err(p) => return Ok(Err(p)),
    };
    match state.store.use_email_link(&hash, crate::now()).await {
        Ok(Some(link)) => {
            // A change of address ended the person's sessions.
            crate::backchannel::wake();
            metrics::counter!("keygate_email_verifications_total", "purpose" => link.purpose.as_str())
                .increment(1);
            tracing::info!(tenant = %door.tenant.id, sub = %link.user_sub, purpose = link.purpose.as_str(), "e-mail address verified");
            Ok(Ok(link))
        }
        Ok(None) => Ok(Err(LinkProblem::Invalid)),
        Err(StoreError::Conflict(_)) => Ok(Err(LinkProblem::Taken)),
        Err(e) => Err(e.into()),
    }
}
