//! Second factors: authenticator apps (TOTP, RFC 6238: HMAC-SHA-1, 6
//! digits, 30-second steps, one step of skew either way), the recovery
//! codes that stand in for them ([`crate::recovery`]) and the sign-ins
//! waiting for one (docs/account.md, "Authenticator apps (TOTP)").
//!
//! A secret is 160 random bits, sealed under the master key with the
//! device id as associated data. A code is accepted once: its time step
//! must be later than the device's last accepted one, decided by the store
//! in one conditional `UPDATE`. Wrong codes count against the account (its
//! own key, so a right password never resets them) and the IP exactly like
//! passwords.

use crate::accounts::AccountError;
use crate::door::Door;
use crate::error::ApiError;
use crate::limits;
use crate::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use keygate_core::amr::Method;
use keygate_core::authorize::AuthorizeRequest;
use keygate_core::model::{Client, MfaPolicy};
use keygate_core::params::Params;
use keygate_core::{ErrorCode, OAuthError};
use keygate_crypto::secrets;
use keygate_store::{MfaPending, TotpDevice};
use totp_rs::{Algorithm, Builder, Totp};

/// How long a sign-in waits for its second factor (seconds).
pub(crate) const PENDING_TTL: i64 = 300;
/// How long an added authenticator app may wait for its first code
/// (seconds); later it is ignored and must be added again.
pub(crate) const ENROL_TTL: i64 = 3600;
/// How many confirmed authenticator apps a person may have.
pub(crate) const MAX_DEVICES: usize = 10;
/// The name of an authenticator app when the person gives none.
pub(crate) const DEFAULT_NAME: &str = "Authenticator app";

/// A fresh secret: 160 random bits (RFC 4226 section 4).
pub(crate) fn new_secret() -> Vec<u8> {
    secrets::random_bytes(20)
}

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .build()
        .ok()
}

/// The secret in base32 without padding, as authenticator apps read it.
pub(crate) fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec())
        .to_base32()
        .trim_end_matches('=')
        .to_string()
}

/// The `otpauth://totp/{issuer}:{account}?secret=...&issuer=...` URI of a
/// secret (the Key Uri Format of Google Authenticator).
pub(crate) fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let issuer = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    let account = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

/// The QR code of `text` as inline SVG markup (no XML declaration).
pub(crate) fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            match svg.find("<svg") {
                Some(i) => svg[i..].to_string(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

/// Seals a device's secret under the master key, bound to its id.
pub(crate) fn seal(state: &AppState, device_id: &str, secret: &[u8]) -> String {
    state.keys.master().seal(&totp_label(device_id), secret)
}

/// Opens a device's sealed secret.
pub(crate) fn open(state: &AppState, device: &TotpDevice) -> Result<Vec<u8>, ApiError> {
    state
        .keys
        .master()
        .open(&totp_label(&device.id), &device.sealed_secret)
        .map_err(|e| ApiError::internal(format!("cannot open a TOTP secret: {e}")))
}

fn totp_label(device_id: &str) -> String {
    format!("totp:{device_id}")
}

/// The time step whose code `code` is, within one step of `now`, if any.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret)?;
    let time = u64::try_from(now).ok()?;
    t.check(code, time).and_then(|s| i64::try_from(s).ok())
}

/// The person's confirmed authenticator apps.
pub(crate) async fn confirmed_devices(
    state: &AppState,
    tenant: &str,
    sub: &str,
) -> Result<Vec<TotpDevice>, ApiError> {
    Ok(state
        .store
        .totp_devices(tenant, sub)
        .await?
        .into_iter()
        .filter(|d| d.confirmed_at.is_some())
        .collect())
}

/// The second factors a person has, which the second step offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offers {
    /// A confirmed authenticator app: the code form.
    pub code: bool,
    /// A passkey: "Use a passkey".
    pub passkey: bool,
}

/// The second factors the person has.
pub(crate) async fn offers(state: &AppState, tenant: &str, sub: &str) -> Result<Offers, ApiError> {
    Ok(Offers {
        code: !confirmed_devices(state, tenant, sub).await?.is_empty(),
        passkey: !state.store.passkeys(tenant, sub).await?.is_empty(),
    })
}

/// Whether the person must give a second factor after their password:
/// they have an authenticator app or a passkey.
pub(crate) async fn required(state: &AppState, tenant: &str, sub: &str) -> Result<bool, ApiError> {
    let o = offers(state, tenant, sub).await?;
    Ok(o.code || o.passkey)
}

/// A sign-in waiting for its second factor, as its token found it.
pub(crate) struct Pending {
    /// The person.
    pub sub: String,
    /// What they proved so far (the password, or a step-up session's
    /// methods); the second factor is added to these.
    pub methods: Vec<Method>,
    /// The authorization request a Journeys sign-in finishes with.
    pub request: Option<String>,
}

impl Pending {
    /// The methods of the finished sign-in: these plus `factor`.
    pub(crate) fn with(&self, factor: Method) -> Vec<Method> {
        let mut m = self.methods.clone();
        m.push(factor);
        m
    }
}

/// Starts a sign-in waiting for its second factor, after `methods`; its
/// token. `request` is the authorization request to finish with when no
/// form carries it (the Journeys API).
pub(crate) async fn start_pending(
    state: &AppState,
    door: &Door,
    sub: &str,
    methods: &[Method],
    request: Option<String>,
) -> Result<String, ApiError> {
    let token = secrets::new_secret();
    let now = crate::now();
    state
        .store
        .create_mfa_pending(
            &secrets::sha256_hex(&token),
            &MfaPending {
                tenant_id: door.tenant.id.clone(),
                user_sub: sub.to_string(),
                created_at: now,
                expires_at: now + PENDING_TTL,
                used_at: None,
                amr: keygate_core::amr::amr(methods),
                request,
            },
        )
        .await?;
    Ok(token)
}

/// The person of a waiting sign-in of this tenant, if its token is known,
/// unused and unexpired, and the person is still there and not disabled.
pub(crate) async fn pending_person(
    state: &AppState,
    door: &Door,
    token: &str,
) -> Result<Option<Pending>, ApiError> {
    if !secrets::is_well_formed_secret(token) {
        return Ok(None);
    }
    let pending = state.store.mfa_pending(&secrets::sha256_hex(token)).await?;
    let Some(pending) = pending.filter(|p| {
        p.tenant_id == door.tenant.id && p.used_at.is_none() && p.expires_at > crate::now()
    }) else {
        return Ok(None);
    };
    // A person disabled or deleted since their password was checked.
    let user = state
        .store
        .get_user(&door.tenant.id, &pending.user_sub)
        .await?;
    Ok(user.filter(|u| !u.disabled).map(|u| Pending {
        sub: u.sub,
        methods: keygate_core::amr::methods(&pending.amr),
        request: pending.request,
    }))
}

/// Finishes a waiting sign-in: whether this call did (it is single use).
pub(crate) async fn finish_pending(state: &AppState, token: &str) -> Result<bool, ApiError> {
    Ok(state
        .store
        .finish_mfa_pending(&secrets::sha256_hex(token), crate::now())
        .await?)
}

/// Whether `code` is shaped like an authenticator app's code: 6 digits,
/// spaces aside. Anything else is tried as a recovery code.
fn is_totp_shaped(code: &str) -> Option<String> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit())).then_some(compact)
}

/// Checks a code against the person's confirmed authenticator apps or,
/// when it is not a 6-digit code, against their recovery codes; each
/// attempt reserved against the account and the IP first (the sign-in
/// limits, the same for both kinds). A right code is accepted once (its
/// step, or the recovery code, is used); the answer is the method it proved.
pub(crate) async fn check_code(
    state: &AppState,
    door: &Door,
    sub: &str,
    code: &str,
) -> Result<Result<Method, AccountError>, ApiError> {
    let tenant = door.tenant.id.as_str();
    let totp = is_totp_shaped(code);
    let method = if totp.is_some() {
        "otp"
    } else {
        "recovery_code"
    };
    let outcome = limited(state, door, sub, || async {
        Ok(match totp {
            Some(digits) => {
                let now = crate::now();
                let mut accepted = None;
                for device in confirmed_devices(state, tenant, sub).await? {
                    let secret = open(state, &device)?;
                    if let Some(step) = matching_step(&secret, &digits, now) {
                        if state.store.use_totp_step(&device.id, step).await? {
                            accepted = Some(Method::Otp);
                            break;
                        }
                    }
                }
                accepted
            }
            None => crate::recovery::try_use(state, tenant, sub, code)
                .await?
                .map(|_| Method::RecoveryCode),
        })
    })
    .await?;
    let failure = match &outcome {
        Ok(_) => None,
        Err(e) => Some(e.code()),
    };
    crate::events::mfa(state, door, sub, method, failure).await;
    match &outcome {
        Ok(_) => tracing::info!(tenant, sub, method, "second factor succeeded"),
        Err(AccountError::InvalidCode) => {
            tracing::info!(tenant, sub, method, "second factor failed: wrong code")
        }
        Err(_) => {}
    }
    Ok(outcome)
}

/// Runs one attempt at a code for `sub`, reserved first against the
/// account and the IP with the sign-in limits (so a code form cannot be
/// used to guess faster than a password form). `check` answers whether
/// the code was right, with what it proved; a wrong one counts as a
/// failure, a right one clears the account's count.
pub(crate) async fn limited<T, F, Fut>(
    state: &AppState,
    door: &Door,
    sub: &str,
    check: F,
) -> Result<Result<T, AccountError>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ApiError>>,
{
    let tenant = door.tenant.id.as_str();
    let account = limits::person_key("mfa", tenant, sub);
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
            tracing::warn!(tenant, sub, "second factor blocked: too many attempts");
            return Ok(Err(AccountError::TooManyAttempts(secs)));
        }
    };
    match check().await? {
        Some(v) => {
            state.store.clear_failures(&account).await?;
            if let Some(k) = &ip {
                state.store.release_attempt(k, ip_limit).await?;
            }
            Ok(Ok(v))
        }
        None => {
            let now = crate::now();
            state
                .store
                .attempt_failed(&account, reserved.0, now, account_limit)
                .await?;
            if let (Some(k), Some(count)) = (&ip, reserved.1) {
                state.store.attempt_failed(k, count, now, ip_limit).await?;
            }
            Ok(Err(AccountError::InvalidCode))
        }
    }
}

/// A new unconfirmed authenticator app for `sub` with a fresh secret,
/// replacing an earlier unconfirmed one (at most one per person); `None`
/// when the person has [`MAX_DEVICES`] confirmed ones already.
pub(crate) async fn new_device(
    state: &AppState,
    tenant: &str,
    sub: &str,
) -> Result<Option<TotpDevice>, ApiError> {
    let mut confirmed = 0;
    for d in state.store.totp_devices(tenant, sub).await? {
        if d.confirmed_at.is_some() {
            confirmed += 1;
        } else {
            state.store.delete_totp_device(tenant, sub, &d.id).await?;
        }
    }
    if confirmed >= MAX_DEVICES {
        return Ok(None);
    }
    let id = secrets::new_ordered_id();
    let device = TotpDevice {
        sealed_secret: seal(state, &id, &new_secret()),
        id,
        tenant_id: tenant.to_string(),
        user_sub: sub.to_string(),
        name: DEFAULT_NAME.into(),
        created_at: crate::now(),
        confirmed_at: None,
        last_used_step: None,
    };
    state.store.create_totp_device(&device).await?;
    Ok(Some(device))
}

/// The person's unconfirmed authenticator app `id`, if it is still within
/// its time to be confirmed.
pub(crate) async fn unconfirmed_device(
    state: &AppState,
    tenant: &str,
    sub: &str,
    id: &str,
) -> Result<Option<TotpDevice>, ApiError> {
    let now = crate::now();
    Ok(state
        .store
        .totp_devices(tenant, sub)
        .await?
        .into_iter()
        .find(|d| d.id == id && d.confirmed_at.is_none() && d.created_at + ENROL_TTL > now))
}

/// Confirms an unconfirmed app by its first code under `name` (attempts
/// limited like codes at sign-in); the code's step counts as used.
pub(crate) async fn confirm_device(
    state: &AppState,
    door: &Door,
    device: &TotpDevice,
    name: &str,
    code: &str,
) -> Result<Result<(), AccountError>, ApiError> {
    let secret = open(state, device)?;
    let outcome = limited(state, door, &device.user_sub, || async {
        let now = crate::now();
        let Some(step) = matching_step(&secret, code, now) else {
            return Ok(None);
        };
        let confirmed = state
            .store
            .confirm_totp_device(
                &device.tenant_id,
                &device.user_sub,
                &device.id,
                name,
                step,
                now,
            )
            .await?;
        Ok(confirmed.then_some(()))
    })
    .await?;
    match &outcome {
        Ok(()) => {
            tracing::info!(tenant = %device.tenant_id, sub = %device.user_sub, device = %device.id, "authenticator app enrolled");
            crate::events::by_user(
                state,
                door,
                "user.factor_added",
                &device.user_sub,
                serde_json::json!({"method": "otp", "id": device.id}),
            )
            .await;
        }
        Err(_) => {
            tracing::info!(tenant = %device.tenant_id, sub = %device.user_sub, device = %device.id, "authenticator app not confirmed: wrong code")
        }
    }
    Ok(outcome)
}

/// The name a person gave an app: trimmed, no control characters, at most
/// 100 characters, or [`DEFAULT_NAME`].
pub(crate) fn device_name(raw: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    if name.is_empty() {
        DEFAULT_NAME.to_string()
    } else {
        name
    }
}

/// What a sign-in needs after its first step (docs/account.md, "Second
/// factors and policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondStep {
    /// Nothing: the sign-in is done.
    None,
    /// The person's second factor.
    Ask,
    /// The person has none but must: enrol one now.
    Enrol,
    /// A second factor is demanded and this tenant offers none.
    Refuse,
}

/// Whether a request needs a multi-factor sign-in whoever signs in: the
/// tenant requires it, or the request or its client does.
pub(crate) fn needs_mfa(door: &Door, req: &AuthorizeRequest) -> bool {
    door.tenant.mfa == MfaPolicy::Required || req.needs_mfa
}

/// What the sign-in of `sub` for `req` needs after its first step.
pub(crate) async fn second_step(
    state: &AppState,
    door: &Door,
    req: Option<&AuthorizeRequest>,
    sub: &str,
) -> Result<SecondStep, ApiError> {
    let demanded = req.is_some_and(|r| r.needs_mfa);
    Ok(match door.tenant.mfa {
        MfaPolicy::Off if demanded => SecondStep::Refuse,
        MfaPolicy::Off => SecondStep::None,
        _ if required(state, &door.tenant.id, sub).await? => SecondStep::Ask,
        MfaPolicy::Required => SecondStep::Enrol,
        _ if demanded => SecondStep::Enrol,
        _ => SecondStep::None,
    })
}

/// The refusal of a request demanding a second factor that cannot be
/// given: `access_denied` back to the application (RFC 6749 4.1.2.1).
pub(crate) fn refuse(door: &Door, req: &AuthorizeRequest, why: &'static str) -> Response {
    crate::pages::error_redirect(
        door,
        &req.error_redirect(OAuthError::new(ErrorCode::AccessDenied, why)),
    )
}

/// Steps up a live session that lacks the second factor `req` needs: the
/// second-factor page for its person, whose finished sign-in keeps the
/// session's methods and adds the factor.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn step_up(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    req: &AuthorizeRequest,
    sub: &str,
    amr: &[String],
) -> Result<Response, ApiError> {
    match second_step(state, door, Some(req), sub).await? {
        SecondStep::Ask => {
            let mut methods = keygate_core::amr::methods(amr);
            if methods.is_empty() {
                methods.push(Method::Password);
            }
            let token = start_pending(state, door, sub, &methods, None).await?;
            tracing::info!(tenant = %door.tenant.id, sub, "step-up: second factor asked for a live session");
            Ok(crate::pages::login::show_mfa(
                state,
                door,
                headers,
                client,
                params,
                &token,
                offers(state, &door.tenant.id, sub).await?,
                None,
                StatusCode::OK,
            ))
        }
        SecondStep::Enrol => {
            let Some(user) = state.store.get_user(&door.tenant.id, sub).await? else {
                return Ok(refuse(door, req, "the user is gone"));
            };
            let methods = keygate_core::amr::methods(amr);
            crate::pages::enrol::start(
                state,
                door,
                headers,
                client,
                params,
                sub,
                &user.email,
                &methods,
            )
            .await
        }
        SecondStep::None | SecondStep::Refuse => {
            tracing::info!(tenant = %door.tenant.id, sub, "step-up refused: this tenant offers no second factor");
            Ok(refuse(
                door,
                req,
                "a second factor is needed and the user has none",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1, last 6 digits.
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (2000000000, "279037"),
        ] {
            assert_eq!(matching_step(secret, code, t), Some(t / 30));
        }
        assert_eq!(matching_step(secret, "287082", 59 + 60), None);
        assert_eq!(matching_step(secret, "28708", 59), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let uri = otpauth_uri("Acme Inc", "a@example.com", b"12345678901234567890");
        assert!(uri.starts_with(
            "otpauth://totp/Acme%20Inc:a%40example%2Ecom?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Inc"
        ));
        assert!(qr_svg(&uri).starts_with("<svg"));
    }
}
