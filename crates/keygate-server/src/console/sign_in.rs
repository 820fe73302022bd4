//! Signing in to the console (docs/console.md, "Signing in"): e-mail and
//! password at `/admin/sign-in`, then an authenticator app's code at
//! `/admin/sign-in/second-factor` (enrolling one on the first sign-in),
//! or a passkey the operator added (passkeys.rs); only then is the
//! session signed in. `POST /admin/sign-out` ends it.
//!
//! Wrong passwords and codes count against the operator's e-mail (or id)
//! and the client IP in the store, with the limits of users' sign-ins.

use super::{
    page_with_status, read_body, same_origin, secure, session_cookie, Operator, Pending, Shell,
};
use crate::error::ApiError;
use crate::events::Record;
use crate::{limits, mfa, AppState};
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use keygate_crypto::{password, secrets};
use keygate_store::OperatorSession;
use std::net::IpAddr;

/// The second step's page.
pub(crate) const SECOND_FACTOR: &str = "/admin/sign-in/second-factor";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sign-in", get(sign_in_get).post(sign_in_post))
        .route(SECOND_FACTOR, get(second_get).post(second_post))
        .route("/admin/sign-out", post(sign_out))
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    shell: Shell,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "console/second_factor.html")]
struct SecondFactorPage<'a> {
    shell: Shell,
    csrf: &'a str,
    error: Option<&'a str>,
    /// On enrolment: the QR code, the URI and the secret in base32.
    enrol: Option<Enrol>,
    /// "Use a passkey" (start, finish), when the operator has one.
    passkey: Option<(&'static str, &'static str)>,
    script: &'static str,
}

struct Enrol {
    qr_svg: String,
    uri: String,
    secret: String,
}

/// The cookie that binds the sign-in form to the browser that loaded it
/// (double submit; there is no session yet).
fn login_cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        "__Host-kg_console_login"
    } else {
        "kg_console_login"
    }
}

fn login_cookie(state: &AppState, value: &str) -> String {
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        login_cookie_name(state),
        if value.is_empty() { 0 } else { 3600 }
    );
    if state.config.https() {
        c.push_str("; Secure");
    }
    c
}

fn with_cookies(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn client_ip(state: &AppState, req: &Request) -> Option<IpAddr> {
    crate::door::client_ip_of(state, req.headers(), req.extensions())
}

/// The sign-in form, with a fresh form token in its cookie.
fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> Response {
    let csrf = secrets::new_secret();
    let res = page_with_status(
        status,
        &SignInPage {
            shell: Shell::bare(),
            csrf: &csrf,
            email,
            error,
        },
    );
    with_cookies(res, &[login_cookie(state, &csrf)])
}

/// GET /admin/sign-in
async fn sign_in_get(State(state): State<AppState>) -> Response {
    sign_in_page(&state, StatusCode::OK, "", None)
}

/// The actor of an event about an e-mail typed at the sign-in form
/// (bounded: it is whatever the caller sent).
fn actor_of(email: &str) -> String {
    let e: String = email.trim().to_lowercase().chars().take(254).collect();
    format!("operator:{e}")
}

/// POST /admin/sign-in: e-mail and password.
async fn sign_in_post(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    if !same_origin(&state, req.headers()) {
        return Ok(super::cross_site());
    }
    let cookie = crate::http::cookies::read(req.headers(), login_cookie_name(&state));
    let ip = client_ip(&state, &req);
    let user_agent: Option<String> = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect());
    let form = match read_body(&state, req).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    let token_ok = match (cookie, form.get("csrf")) {
        (Some(c), Some(f)) => secrets::ct_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    };
    if !token_ok {
        return Ok(super::cross_site());
    }
    let email_raw = form.text("email");
    let pw = form.get("password").unwrap_or("").to_string();
    let email = keygate_core::validate::normalize_email(email_raw);
    let shown_email: String = email_raw.chars().take(254).collect();

    // Reserved against the e-mail and the IP before the password is checked.
    let account = limits::email_key("console", "", email_raw);
    let ip_key = ip.map(limits::ip_key);
    let account_limit = &state.config.signin_account_limit;
    let ip_limit = &state.config.signin_ip_limit;
    let reserved = match limits::reserve_both(
        &state,
        (&account, account_limit),
        ip_key.as_deref().map(|k| (k, ip_limit)),
    )
    .await?
    {
        Ok(r) => r,
        Err(secs) => {
            Record::new("", "admin.sign_in_failed", actor_of(email_raw))
                .ip(ip)
                .detail(serde_json::json!({"reason": "too many attempts"}))
                .save(&state)
                .await;
            let msg = format!("Too many attempts. Try again in {secs} seconds.");
            let mut res = sign_in_page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &shown_email,
                Some(&msg),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(res);
        }
    };
    let found = match &email {
        Some(e) => state.store.operator_by_email(e).await?,
        None => None,
    };
    let hash = found.as_ref().map(|o| o.password_hash.clone());
    let candidate = pw.clone();
    let ok = crate::signing::run_password(move || match hash {
        Some(h) => password::verify_password(&candidate, &h),
        None => {
            password::verify_password(&candidate, password::dummy_hash());
            false
        }
    })
    .await?;
    let now = crate::now();
    let operator = match found {
        Some(o) if ok && !o.disabled && pw.len() <= keygate_core::validate::MAX_PASSWORD_LEN => o,
        _ => {
            state
                .store
                .attempt_failed(&account, reserved.0, now, account_limit)
                .await?;
            if let (Some(k), Some(count)) = (&ip_key, reserved.1) {
                state.store.attempt_failed(k, count, now, ip_limit).await?;
            }
            Record::new("", "admin.sign_in_failed", actor_of(email_raw))
                .ip(ip)
                .detail(serde_json::json!({"reason": "wrong e-mail or password"}))
                .save(&state)
                .await;
            tracing::info!("console sign-in failed: wrong e-mail or password");
            return Ok(sign_in_page(
                &state,
                StatusCode::UNAUTHORIZED,
                &shown_email,
                Some("Wrong e-mail or password."),
            ));
        }
    };
    state.store.clear_failures(&account).await?;
    if let Some(k) = &ip_key {
        state.store.release_attempt(k, ip_limit).await?;
    }
    let value = secrets::new_secret();
    state
        .store
        .create_operator_session(&OperatorSession {
            id_hash: secrets::sha256_hex(&value),
            operator_id: operator.id.clone(),
            created_at: now,
            expires_at: now + super::SESSION_TTL,
            last_seen_at: now,
            mfa_passed: false,
            ip: ip.map(|i| i.to_string()),
            user_agent,
        })
        .await?;
    let res = secure(Redirect::to(SECOND_FACTOR).into_response());
    Ok(with_cookies(
        res,
        &[session_cookie(&state, &value), login_cookie(&state, "")],
    ))
}

fn sealing_label(operator_id: &str) -> String {
    format!("operator-totp:{operator_id}")
}

/// The second step's page: the code form, or the enrolment (a new secret
/// made and sealed on the first visit, shown again on later ones until a
/// code confirms it).
async fn second_page(
    state: &AppState,
    pending: &Pending,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let enrol = if pending.stored.totp_confirmed {
        None
    } else {
        let secret = match &pending.stored.totp_secret_sealed {
            Some(sealed) => open_secret(state, &pending.stored.id, sealed)?,
            None => {
                let secret = mfa::new_secret();
                let sealed = state
                    .keys
                    .master()
                    .seal(&sealing_label(&pending.stored.id), &secret);
                state
                    .store
                    .set_operator_totp(&pending.stored.id, &sealed)
                    .await?;
                secret
            }
        };
        let uri = mfa::otpauth_uri("Keygate console", &pending.stored.email, &secret);
        Some(Enrol {
            qr_svg: mfa::qr_svg(&uri),
            secret: mfa::base32(&secret),
            uri,
        })
    };
    let passkey = super::passkeys::offered(state, pending).await?.then_some((
        super::passkeys::SIGN_IN_START,
        super::passkeys::SIGN_IN_FINISH,
    ));
    let res = page_with_status(
        status,
        &SecondFactorPage {
            shell: Shell::bare(),
            csrf: &pending.op.csrf,
            error,
            enrol,
            passkey,
            script: super::passkeys::script(),
        },
    );
    Ok(if passkey.is_some() {
        crate::pages::render::with_script(res)
    } else {
        res
    })
}

fn open_secret(state: &AppState, id: &str, sealed: &str) -> Result<Vec<u8>, ApiError> {
    state
        .keys
        .master()
        .open(&sealing_label(id), sealed)
        .map_err(|e| ApiError::internal(format!("cannot open an operator's TOTP secret: {e}")))
}

/// GET /admin/sign-in/second-factor
async fn second_get(State(state): State<AppState>, pending: Pending) -> Result<Response, ApiError> {
    second_page(&state, &pending, StatusCode::OK, None).await
}

/// POST /admin/sign-in/second-factor: the code (confirming the enrolment
/// on the first sign-in). A code's time step is accepted once.
async fn second_post(
    State(state): State<AppState>,
    pending: Pending,
    req: Request,
) -> Result<Response, ApiError> {
    let form = match super::form_any_role(&state, &pending.op, req).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    let op = &pending.op;
    let account = limits::person_key("console-mfa", "", &op.id);
    let ip_key = op.ip.map(limits::ip_key);
    let account_limit = &state.config.signin_account_limit;
    let ip_limit = &state.config.signin_ip_limit;
    let reserved = match limits::reserve_both(
        &state,
        (&account, account_limit),
        ip_key.as_deref().map(|k| (k, ip_limit)),
    )
    .await?
    {
        Ok(r) => r,
        Err(secs) => {
            let msg = format!("Too many attempts. Try again in {secs} seconds.");
            return second_page(&state, &pending, StatusCode::TOO_MANY_REQUESTS, Some(&msg)).await;
        }
    };
    let now = crate::now();
    let code: String = form
        .text("code")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let accepted = match &pending.stored.totp_secret_sealed {
        Some(sealed) => {
            let secret = open_secret(&state, &op.id, sealed)?;
            match mfa::matching_step(&secret, &code, now) {
                Some(step) => {
                    state
                        .store
                        .use_operator_totp_step(&op.id, step, !pending.stored.totp_confirmed)
                        .await?
                }
                None => false,
            }
        }
        None => false,
    };
    if !accepted {
        state
            .store
            .attempt_failed(&account, reserved.0, now, account_limit)
            .await?;
        if let (Some(k), Some(count)) = (&ip_key, reserved.1) {
            state.store.attempt_failed(k, count, now, ip_limit).await?;
        }
        Record::new("", "admin.sign_in_failed", op.actor())
            .ip(op.ip)
            .detail(serde_json::json!({"reason": "wrong or used code"}))
            .save(&state)
            .await;
        return second_page(
            &state,
            &pending,
            StatusCode::UNAUTHORIZED,
            Some("That code is wrong or was used already. Wait for the next one."),
        )
        .await;
    }
    state.store.clear_failures(&account).await?;
    if let Some(k) = &ip_key {
        state.store.release_attempt(k, ip_limit).await?;
    }
    second_factor_passed(&state, &pending, "totp").await?;
    Ok(secure(Redirect::to("/admin/").into_response()))
}

/// Marks the session signed in after its second factor (`totp` or
/// `passkey`), and records `admin.signed_in` saying which.
pub(super) async fn second_factor_passed(
    state: &AppState,
    pending: &Pending,
    second_factor: &str,
) -> Result<(), ApiError> {
    let op = &pending.op;
    state.store.pass_operator_mfa(&op.session).await?;
    Record::new("", "admin.signed_in", op.actor())
        .ip(op.ip)
        .detail(serde_json::json!({
            "role": op.role.as_str(),
            "enrolled": !pending.stored.totp_confirmed,
            "second_factor": second_factor,
        }))
        .save(state)
        .await;
    Ok(())
}

/// POST /admin/sign-out: ends the session.
async fn sign_out(
    State(state): State<AppState>,
    op: Operator,
    req: Request,
) -> Result<Response, ApiError> {
    if let Err(res) = super::form_any_role(&state, &op, req).await {
        return Ok(res);
    }
    state.store.delete_operator_session(&op.session).await?;
    let res = secure(Redirect::to("/admin/sign-in").into_response());
    Ok(with_cookies(res, &[session_cookie(&state, "")]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn actors_are_bounded() {
        let long = "a".repeat(1000);
        assert_eq!(super::actor_of(&long).len(), "operator:".len() + 254);
        assert_eq!(
            super::actor_of(" Ann@Example.COM "),
            "operator:ann@example.com"
        );
    }
}
