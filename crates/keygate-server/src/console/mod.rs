//! The admin console (docs/console.md): server-rendered pages for
//! operators at `{PUBLIC_URL}/admin/`, next to the admin API at
//! `/admin/v1` (which keeps its bearer tokens and never sees a console
//! cookie).
//!
//! # The shell, for the pages built on it
//!
//! - Routes: [`router`] holds every console route by its full path
//!   (`/admin/...`) and is merged at the root of the public URL; a page
//!   module adds its own `fn routes() -> Router<AppState>` and one
//!   `.merge(...)` line here. `/admin/v1/...` stays the API's.
//! - Who is signed in: take an [`Operator`] as a handler argument. Without
//!   a fully signed-in session (password and second factor) a GET is
//!   redirected to `/admin/sign-in` and anything else refused (403).
//!   Ask it [`Operator::can_read`], [`Operator::can_change`] (a tenant's
//!   things), [`Operator::can_change_every_tenant`] (making or deleting
//!   tenants) and [`Operator::is_owner`] (operators, admin tokens); answer
//!   a refusal with [`refused`]. Record changes with
//!   `events::Record::new(tenant, kind, op.actor()).ip(op.ip)`.
//! - Forms: every POST goes through [`form`] (or [`form_any_role`] for
//!   what a viewer may do, like signing out), which checks the request's
//!   origin (`Origin`, `Sec-Fetch-Site`) and the CSRF token bound to the
//!   operator's session (the hidden input `csrf`, value [`Operator::csrf`]
//!   or `shell.csrf` in a template), refuses viewers, and reads the body
//!   as a [`Form`].
//! - Pages: a template extends `console/layout.html`, has a field
//!   `shell: Shell` ([`Shell::new`], naming the navigation entry it
//!   belongs to) and fills the blocks `title` and `content`. Answer it
//!   with [`page`] (or [`page_with_status`]): every console answer carries
//!   the headers of [`secure`] (strict CSP with the stylesheet by hash,
//!   no script (the two passkey pages allow the hosted pages' one script
//!   by its hash: `passkeys.rs`), `no-store`, `X-Frame-Options: DENY`,
//!   `Referrer-Policy: no-referrer`). [`message`] is a page that says one
//!   thing.
//! - Every input has a `<label>`; buttons are `<button>`; tables go in a
//!   `<div class="table">` so they scroll on a phone.

mod apis;
mod clients;
mod dashboard;
mod events;
mod idps;
mod keys;
mod operators;
mod passkeys;
mod resources;
mod sign_in;
mod tenants;
mod tokens;
mod users;
mod webhooks;

use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use keygate_crypto::secrets;
use std::sync::OnceLock;

/// The console's stylesheet, inline on every page and allowed by its hash.
pub(crate) const CSS: &str = include_str!("../../templates/console/console.css");

/// How long an operator session lasts (seconds): a working day.
pub(crate) const SESSION_TTL: i64 = 8 * 3600;

/// Every console route, by full path: merged at the public URL's root.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin",
            get(|| async { secure(Redirect::to("/admin/").into_response()) }),
        )
        .merge(sign_in::routes())
        .merge(dashboard::routes())
        .merge(operators::routes())
        .merge(resources::routes())
        .merge(passkeys::routes())
}

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Everything, operators and admin tokens included.
    Owner,
    /// Every change within its tenant (or every tenant), except operators
    /// and admin tokens.
    Admin,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The role named `owner`, `admin` or `viewer`.
    pub(crate) fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// Its name, as stored and shown.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// The operator signed in to the console (password and second factor),
/// as a handler argument; see the module's documentation.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// The one tenant it manages; `None` for every tenant.
    pub tenant: Option<String>,
    /// The CSRF token of its session (the forms' hidden `csrf` input).
    pub csrf: String,
    /// The SHA-256 of its session cookie.
    pub(crate) session: String,
    /// The client IP of this request.
    pub ip: Option<std::net::IpAddr>,
}

impl Operator {
    /// Whether it may see the tenant's things.
    #[allow(dead_code)] // the resource pages' check
    pub(crate) fn can_read(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == tenant)
    }

    /// Whether it may change the tenant's things.
    #[allow(dead_code)] // the resource pages' check
    pub(crate) fn can_change(&self, tenant: &str) -> bool {
        self.role != Role::Viewer && self.can_read(tenant)
    }

    /// Whether it is an owner: the only role that may manage operators
    /// and admin tokens.
    pub(crate) fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }

    /// Whether it may change things of every tenant, and so make or delete
    /// tenants: an owner, or an admin without a tenant.
    #[allow(dead_code)] // the tenants page's check
    pub(crate) fn can_change_every_tenant(&self) -> bool {
        self.role != Role::Viewer && self.tenant.is_none()
    }

    /// The actor of the events it causes.
    pub(crate) fn actor(&self) -> String {
        format!("operator:{}", self.email)
    }
}

/// The console cookie's name: `__Host-kg_console` over https.
pub(crate) fn cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        "__Host-kg_console"
    } else {
        "kg_console"
    }
}

/// The `Set-Cookie` of a console session (HttpOnly, SameSite=Strict,
/// Path=/, Secure over https); an empty value clears it.
pub(crate) fn session_cookie(state: &AppState, value: &str) -> String {
    let age = if value.is_empty() { 0 } else { SESSION_TTL };
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}",
        cookie_name(state)
    );
    if state.config.https() {
        c.push_str("; Secure");
    }
    c
}

/// The SHA-256 of the request's console cookie, when it has one.
pub(crate) fn session_hash(state: &AppState, headers: &HeaderMap) -> Option<String> {
    crate::http::cookies::read(headers, cookie_name(state))
        .filter(|v| secrets::is_well_formed_secret(v))
        .map(|v| secrets::sha256_hex(&v))
}

/// The CSRF token of a session: an HMAC of its hash under a key derived
/// from the master key, so it is fixed for the session and useless without it.
pub(crate) fn csrf_for(state: &AppState, session_hash: &str) -> String {
    state
        .keys
        .master()
        .keyed_hash("console-csrf")
        .hex(session_hash)
}

/// Whether a state-changing request comes from the console's own origin.
///
/// `Sec-Fetch-Site`, when sent (every current browser sends it, and no
/// page can forge it), must be `same-origin` (or `none`, typed by the
/// user). `Origin`, when sent, must be the public URL's origin; `null` is
/// accepted only beside `Sec-Fetch-Site: same-origin`, because our own
/// `Referrer-Policy: no-referrer` makes browsers send `Origin: null` on
/// the console's own form posts. A request with neither header, from a
/// client that is no browser, still needs the session's CSRF token.
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or(""));
    if let Some(site) = fetch_site {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    match headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => true,
        Some("null") => fetch_site == Some("same-origin"),
        Some(origin) => {
            let own = url::Url::parse(&state.config.public_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            origin == own
        }
    }
}

/// What the session cookie of a request stands for.
enum Found {
    /// No session (or an expired one, or its operator gone or disabled).
    None,
    /// Password given, second factor not yet.
    Pending(Operator, keygate_store::Operator),
    /// Signed in.
    SignedIn(Operator),
}

async fn find(state: &AppState, parts: &Parts) -> Result<Found, ApiError> {
    let Some(hash) = session_hash(state, &parts.headers) else {
        return Ok(Found::None);
    };
    let Some(session) = state.store.operator_session(&hash, crate::now()).await? else {
        return Ok(Found::None);
    };
    let Some(stored) = state.store.get_operator(&session.operator_id).await? else {
        return Ok(Found::None);
    };
    let Some(role) = Role::parse(&stored.role) else {
        return Ok(Found::None);
    };
    if stored.disabled {
        return Ok(Found::None);
    }
    let op = Operator {
        id: stored.id.clone(),
        email: stored.email.clone(),
        role,
        tenant: stored.tenant_id.clone(),
        csrf: csrf_for(state, &hash),
        session: hash,
        ip: crate::door::client_ip_of(state, &parts.headers, &parts.extensions),
    };
    Ok(if session.mfa_passed {
        Found::SignedIn(op)
    } else {
        Found::Pending(op, stored)
    })
}

/// Without a session: a GET goes to the sign-in page, anything else is refused.
fn to_sign_in(parts: &Parts) -> Response {
    if parts.method == axum::http::Method::GET {
        secure(Redirect::to("/admin/sign-in").into_response())
    } else {
        message(
            StatusCode::FORBIDDEN,
            "Signed out",
            "Your session has ended. Sign in again.",
        )
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match find(state, parts)
            .await
            .map_err(IntoResponse::into_response)?
        {
            Found::SignedIn(op) => Ok(op),
            Found::Pending(..) => {
                if parts.method == axum::http::Method::GET {
                    Err(secure(Redirect::to(sign_in::SECOND_FACTOR).into_response()))
                } else {
                    Err(to_sign_in(parts))
                }
            }
            Found::None => Err(to_sign_in(parts)),
        }
    }
}

/// An operator who gave its password but not yet its second factor.
pub(crate) struct Pending {
    pub(crate) op: Operator,
    pub(crate) stored: keygate_store::Operator,
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match find(state, parts)
            .await
            .map_err(IntoResponse::into_response)?
        {
            Found::Pending(op, stored) => Ok(Pending { op, stored }),
            Found::SignedIn(_) => Err(secure(Redirect::to("/admin/").into_response())),
            Found::None => Err(to_sign_in(parts)),
        }
    }
}

/// A posted urlencoded form; a field may repeat (check boxes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, or "" when absent.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    /// Every value of `name`, in order.
    #[allow(dead_code)] // the resource pages' lists
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a check box `name` was ticked.
    #[allow(dead_code)] // the resource pages' check boxes
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn parse(bytes: &[u8]) -> Form {
        Form {
            pairs: url::form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }
}

/// Reads a console form posted by a signed-in operator who may change
/// things: refused (403 page) from another origin, without the session's
/// CSRF token, or from a viewer. The handler still checks
/// [`Operator::can_change`] for the tenant concerned.
pub(crate) async fn form(state: &AppState, op: &Operator, req: Request) -> Result<Form, Response> {
    if op.role == Role::Viewer {
        return Err(refused(op));
    }
    form_any_role(state, op, req).await
}

/// [`form`] for what a viewer may do too (sign out).
pub(crate) async fn form_any_role(
    state: &AppState,
    op: &Operator,
    req: Request,
) -> Result<Form, Response> {
    if !same_origin(state, req.headers()) {
        return Err(cross_site());
    }
    let form = read_body(state, req).await?;
    if !form
        .get("csrf")
        .is_some_and(|c| secrets::ct_eq(c.as_bytes(), op.csrf.as_bytes()))
    {
        return Err(cross_site());
    }
    Ok(form)
}

/// Reads a form body (bounded), without the session checks.
pub(crate) async fn read_body(state: &AppState, req: Request) -> Result<Form, Response> {
    let bytes = crate::http::body::read_limited(req, state.config.max_body_bytes)
        .await
        .map_err(|_| {
            message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "The form sent was too large.",
            )
        })?;
    Ok(Form::parse(&bytes))
}

/// The refusal of a request from another site or without the CSRF token.
pub(crate) fn cross_site() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Refused",
        "This request did not come from a console page (its origin or form token is wrong). Go back, reload the page and try again.",
    )
}

/// Everything a page of the console shows around its content.
pub(crate) struct Shell {
    pub css: &'static str,
    /// The signed-in operator's e-mail and role (`None` on the sign-in pages).
    pub email: String,
    pub role: &'static str,
    /// The sign-out form's CSRF token.
    pub csrf: String,
    /// The navigation entry of this page (its `href`), marked current.
    pub current: &'static str,
    /// Whether to show the navigation (not on the sign-in pages).
    pub nav: bool,
}

/// The navigation: (href, label).
pub(crate) const NAV: &[(&str, &str)] = &[
    ("/admin/", "Dashboard"),
    ("/admin/tenants", "Tenants"),
    ("/admin/clients", "Clients"),
    ("/admin/users", "Users"),
    ("/admin/apis", "APIs"),
    ("/admin/upstreams", "Upstreams"),
    ("/admin/keys", "Keys"),
    ("/admin/webhooks", "Webhooks"),
    ("/admin/admin-tokens", "Admin tokens"),
    ("/admin/events", "Events"),
    ("/admin/operators", "Operators"),
    ("/admin/security", "Security"),
];

impl Shell {
    /// The shell of a page for `op`, under the navigation entry `current`
    /// (one of [`NAV`]'s hrefs).
    pub(crate) fn new(op: &Operator, current: &'static str) -> Shell {
        Shell {
            css: CSS,
            email: op.email.clone(),
            role: op.role.as_str(),
            csrf: op.csrf.clone(),
            current,
            nav: true,
        }
    }

    /// The shell of a page before sign-in: no navigation.
    pub(crate) fn bare() -> Shell {
        Shell {
            css: CSS,
            email: String::new(),
            role: "",
            csrf: String::new(),
            current: "",
            nav: false,
        }
    }

    /// The navigation entries, with whether each is the current one.
    pub(crate) fn entries(&self) -> Vec<(&'static str, &'static str, bool)> {
        NAV.iter()
            .map(|(h, l)| (*h, *l, *h == self.current))
            .collect()
    }
}

/// The Content-Security-Policy of every console page: nothing but the one
/// stylesheet (by hash), no script, forms only to ourselves, no framing.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; style-src 'sha256-{}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            secrets::sha256_base64(CSS)
        )
    })
}

/// Adds the console's security headers to any answer (pages, redirects).
pub(crate) fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Renders a template (an error page if it fails).
pub(crate) fn render<T: Template>(t: &T) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "console template failed");
        "<!doctype html><title>Error</title><p>The page could not be shown.</p>".to_string()
    })
}

/// A page, 200.
pub(crate) fn page<T: Template>(t: &T) -> Response {
    page_with_status(StatusCode::OK, t)
}

/// A page with a status.
pub(crate) fn page_with_status<T: Template>(status: StatusCode, t: &T) -> Response {
    let mut res = (status, render(t)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(res)
}

/// A page that says one thing (no navigation).
#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    shell: Shell,
    heading: &'a str,
    message: &'a str,
}

/// A page that says one thing, with a link back to the dashboard.
pub(crate) fn message(status: StatusCode, heading: &str, text: &str) -> Response {
    page_with_status(
        status,
        &MessagePage {
            shell: Shell::bare(),
            heading,
            message: text,
        },
    )
}

/// The 403 page: "your role cannot do this", inside the console's layout.
pub(crate) fn refused(op: &Operator) -> Response {
    page_with_status(
        StatusCode::FORBIDDEN,
        &MessagePage {
            shell: Shell::new(op, ""),
            heading: "Not allowed",
            message: &format!(
                "Your role ({}{}) cannot do this.",
                op.role.as_str(),
                op.tenant
                    .as_deref()
                    .map(|t| format!(" of tenant {t}"))
                    .unwrap_or_default()
            ),
        },
    )
}

/// A time as the console shows it: `2026-01-31 14:05 UTC`.
pub(crate) fn when(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_stylesheet_and_no_script() {
        let p = csp();
        assert!(p.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(p.contains("form-action 'self'"));
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(!p.contains("script-src"));
        assert!(!p.contains("unsafe"));
    }

    #[test]
    fn forms_keep_repeated_fields() {
        let f = Form::parse(b"a=1&b=x%20y&a=2&c=");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("a"), vec!["1", "2"]);
        assert_eq!(f.text("b"), "x y");
        assert!(f.checked("c"));
        assert!(!f.checked("d"));
    }

    #[test]
    fn roles() {
        let mut op = Operator {
            id: "o".into(),
            email: "o@example.com".into(),
            role: Role::Admin,
            tenant: Some("acme".into()),
            csrf: String::new(),
            session: String::new(),
            ip: None,
        };
        assert!(op.can_change("acme") && !op.can_change("other") && !op.is_owner());
        assert!(op.can_read("acme") && !op.can_read("other"));
        assert!(!op.can_change_every_tenant());
        op.role = Role::Viewer;
        assert!(op.can_read("acme") && !op.can_change("acme"));
        op.tenant = None;
        op.role = Role::Owner;
        assert!(op.can_change("any") && op.is_owner() && op.can_change_every_tenant());
        op.role = Role::Viewer;
        assert!(!op.can_change_every_tenant());
        assert_eq!(Role::parse("viewer"), Some(Role::Viewer));
        assert_eq!(Role::parse("root"), None);
    }
}
