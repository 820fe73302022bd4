//! The account page's "Recovery codes" section (docs/account.md, "Recovery
//! codes"): how many are left, and "Generate new codes" (POST
//! /account/recovery/new, with the current password), which replaces every
//! earlier code and shows the new ones once. The page that shows codes is
//! also what the first enrolment of a factor answers with.

use super::{form_with_password, show, signed_in, to_sign_in, Refused, SignedIn};
use crate::door::Door;
use crate::error::ApiError;
use crate::mfa;
use crate::pages::read_form;
use crate::pages::render::{self, CSS};
use crate::recovery;
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;

/// The page that shows new recovery codes, once: each in its own `<code>`
/// element, then a "Continue" link.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(crate) struct CodesPage<'a> {
    /// The page's style sheet.
    pub css: &'a str,
    /// The tenant's display name.
    pub tenant_name: &'a str,
    /// A fixed notice above the codes (what just happened), if any.
    pub notice: Option<&'a str>,
    /// The codes, as the person types them back (`xxxx-xxxx-xxxx`).
    pub codes: &'a [String],
    /// Where "Continue" leads.
    pub next: &'a str,
    /// Or, for a sign-in answering in `form_post` mode, the form that
    /// "Continue" submits to the application.
    pub post: Option<&'a crate::pages::form_post::FormPost>,
}

/// Shows `codes` once (`Cache-Control: no-store`, as every page), with an
/// optional notice and a "Continue" link to `next`.
pub(crate) fn codes_page(
    door: &Door,
    codes: &[String],
    notice: Option<&str>,
    next: &str,
) -> Response {
    let body = render::render(&CodesPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        notice,
        codes,
        next,
        post: None,
    });
    render::html(StatusCode::OK, body, &[])
}

/// [`codes_page`] whose "Continue" posts `post` to the application (a
/// sign-in in `form_post` mode): the page may post to its origin.
pub(crate) fn codes_page_posting(
    door: &Door,
    codes: &[String],
    notice: Option<&str>,
    post: &crate::pages::form_post::FormPost,
) -> Response {
    let body = render::render(&CodesPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        notice,
        codes,
        next: "",
        post: Some(post),
    });
    render::html_posting_to(StatusCode::OK, body, &[], Some(&post.action))
}

/// What the account page shows of the person's recovery codes: how many
/// are unused, or `None` when they have no second factor (then the section
/// is not offered).
pub(crate) async fn left(state: &AppState, who: &SignedIn) -> Result<Option<i64>, ApiError> {
    let (tenant, sub) = (&who.user.tenant_id, &who.user.sub);
    if !mfa::required(state, tenant, sub).await? {
        return Ok(None);
    }
    Ok(Some(recovery::remaining(state, tenant, sub).await?))
}

/// POST /account/recovery/new: new codes, given the current password.
pub(crate) async fn new(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let Some(who) = signed_in(&state, &door, &headers).await? else {
        return Ok(to_sign_in(&door));
    };
    let form = read_form(&state, req).await?;
    match regenerate(&state, &door, &headers, &who, form).await? {
        Ok(codes) => Ok(codes_page(
            &door,
            &codes,
            Some("New recovery codes were made."),
            &door.url("/account"),
        )),
        Err((msg, status)) => show(&state, &door, &headers, &who, None, Some(&msg), status).await,
    }
}

/// Checks the form (CSRF token, current password) and makes new codes.
async fn regenerate(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    form: Result<keygate_core::params::Params, keygate_core::OAuthError>,
) -> Result<Result<Vec<String>, Refused>, ApiError> {
    if let Err(refused) = form_with_password(state, door, headers, who, form).await? {
        return Ok(Err(refused));
    }
    let (tenant, sub) = (door.tenant.id.as_str(), who.user.sub.as_str());
    if !mfa::required(state, tenant, sub).await? {
        let msg = "Recovery codes need a second factor: add an authenticator app first.";
        return Ok(Err((msg.into(), StatusCode::CONFLICT)));
    }
    let codes = recovery::issue(state, tenant, sub).await?;
    let detail = serde_json::json!({"method": "recovery_codes", "count": codes.len()});
    crate::events::by_user(state, door, "user.factor_added", sub, detail).await;
    tracing::info!(
        tenant,
        sub,
        "recovery codes regenerated on the account page"
    );
    Ok(Ok(codes))
}
