//! What the console's resource pages share (tenants.rs, clients.rs,
//! users.rs, keys.rs, tokens.rs): their routes, the request context
//! [`Ctx`] (the signed-in operator, the client IP), the checks of a
//! change (role and tenant, then the shell's CSRF-checked form), the pages
//! of a refusal or an error, and the audit event every change records.
//!
//! Every change goes through [`crate::provisioning`] (or the key ring for
//! signing keys), the code the admin API and the CLI use; no page runs SQL
//! of its own. Every change is recorded as `admin.created`,
//! `admin.updated` or `admin.deleted` with actor `operator:EMAIL`, the
//! client IP and the subject (`tenant:ID`, `client:ID`, `user:SUB`,
//! `key:KID`, `admin-token:ID`); never a secret.

use super::{Form, Operator, Shell};
use crate::provisioning::ProvisionError;
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub(super) use super::when;

/// The resource pages' routes, by full path (merged by the shell's router).
pub(super) fn routes() -> Router<AppState> {
    use super::{apis, clients, events, idps, keys, tenants, tokens, users, webhooks};
    Router::new()
        .route("/admin/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/admin/tenants/{tenant}",
            get(tenants::show).post(tenants::update),
        )
        .route(
            "/admin/tenants/{tenant}/delete",
            get(tenants::confirm_delete).post(tenants::delete),
        )
        .route("/admin/events", get(events::list))
        .route("/admin/clients", get(clients::pick))
        .route(
            "/admin/tenants/{tenant}/clients",
            get(clients::list).post(clients::create),
        )
        .route(
            "/admin/tenants/{tenant}/clients/{id}",
            get(clients::show).post(clients::update),
        )
        .route(
            "/admin/tenants/{tenant}/clients/{id}/secret",
            post(clients::rotate),
        )
        .route(
            "/admin/tenants/{tenant}/clients/{id}/api-grants",
            post(clients::api_grant),
        )
        .route(
            "/admin/tenants/{tenant}/clients/{id}/delete",
            get(clients::confirm_delete).post(clients::delete),
        )
        .route("/admin/users", get(users::pick))
        .route(
            "/admin/tenants/{tenant}/users",
            get(users::list).post(users::create),
        )
        .route("/admin/tenants/{tenant}/users/{sub}", get(users::show))
        .route(
            "/admin/tenants/{tenant}/users/{sub}/{action}",
            get(users::confirm).post(users::act),
        )
        .route("/admin/apis", get(apis::pick))
        .route(
            "/admin/tenants/{tenant}/apis",
            get(apis::list).post(apis::create),
        )
        .route(
            "/admin/tenants/{tenant}/apis/{identifier}",
            get(apis::show).post(apis::update),
        )
        .route(
            "/admin/tenants/{tenant}/apis/{identifier}/delete",
            get(apis::confirm_delete).post(apis::delete),
        )
        .route("/admin/upstreams", get(idps::pick))
        .route(
            "/admin/tenants/{tenant}/upstreams",
            get(idps::list).post(idps::create),
        )
        .route(
            "/admin/tenants/{tenant}/upstreams/{id}",
            get(idps::show).post(idps::update),
        )
        .route(
            "/admin/tenants/{tenant}/upstreams/{id}/delete",
            get(idps::confirm_delete).post(idps::delete),
        )
        .route("/admin/webhooks", get(webhooks::pick))
        .route(
            "/admin/tenants/{tenant}/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/admin/tenants/{tenant}/webhooks/{id}", get(webhooks::show))
        .route(
            "/admin/tenants/{tenant}/webhooks/{id}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        .route("/admin/keys", get(keys::pick))
        .route(
            "/admin/tenants/{tenant}/keys",
            get(keys::list).post(keys::rotate),
        )
        .route(
            "/admin/admin-tokens",
            get(tokens::list).post(tokens::create),
        )
        .route(
            "/admin/admin-tokens/{id}/delete",
            get(tokens::confirm_delete).post(tokens::delete),
        )
}

/// A request to a resource page: the signed-in operator (the shell's
/// extractor: without a session a GET goes to the sign-in page, anything
/// else is refused) and the state.
pub(super) struct Ctx {
    pub(super) state: AppState,
    pub(super) op: Operator,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let op = Operator::from_request_parts(parts, state).await?;
        let ctx = Ctx {
            state: state.clone(),
            op,
        };
        // Ids in paths are short and printable; another names no record
        // (and PostgreSQL refuses a NUL in text, which would be a 500).
        let path = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy();
        if path.len() > 1000 || path.chars().any(char::is_control) {
            return Err(ctx.problem(StatusCode::NOT_FOUND, "No such page.", "/admin/"));
        }
        Ok(ctx)
    }
}

/// A fragment of a page in the console's layout.
#[derive(Template)]
#[template(
    ext = "html",
    source = "{% extends \"console/layout.html\" %}{% block title %}{{ title }}{% endblock %}{% block content %}{{ content|safe }}{% endblock %}"
)]
struct InLayout<'a> {
    shell: Shell,
    title: &'a str,
    /// The page's own template, rendered (and so escaped) already.
    content: String,
}

impl Ctx {
    /// A page under the navigation entry `nav`: `content`'s template (its
    /// values escaped) in the layout.
    pub(super) fn page(&self, nav: &'static str, title: &str, content: impl Template) -> Response {
        self.page_with_status(StatusCode::OK, nav, title, content)
    }

    fn page_with_status(
        &self,
        status: StatusCode,
        nav: &'static str,
        title: &str,
        content: impl Template,
    ) -> Response {
        super::page_with_status(
            status,
            &InLayout {
                shell: Shell::new(&self.op, nav),
                title,
                content: super::render(&content),
            },
        )
    }

    /// The 403 page: this operator's role (or tenant) does not allow it.
    pub(super) fn refused(&self) -> Response {
        super::refused(&self.op)
    }

    /// An error page with `status`, the message, and a way back.
    pub(super) fn problem(&self, status: StatusCode, message: &str, back: &str) -> Response {
        self.page_with_status(status, "", "Not done", ProblemPage { message, back })
    }

    /// A refused provisioning request as a page: 400 for a bad value, 404,
    /// 409; a store failure is a 500 whose details stay in the log.
    pub(super) fn provision_error(&self, e: ProvisionError, back: &str) -> Response {
        let status = match &e {
            ProvisionError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ProvisionError::NotFound(_) => StatusCode::NOT_FOUND,
            ProvisionError::Conflict(_) => StatusCode::CONFLICT,
            ProvisionError::Store(err) => {
                tracing::error!(error = %err, "console: the store failed");
                return self.problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The change could not be stored; try again.",
                    back,
                );
            }
        };
        self.problem(status, &e.describe(crate::provisioning::Front::Api), back)
    }

    /// A change to `tenant` is allowed and `req` is a form that passed the
    /// shell's origin and CSRF checks; else the 403 page.
    pub(super) async fn change(&self, tenant: &str, req: Request) -> Result<Form, Response> {
        if !self.op.can_change(tenant) {
            return Err(self.refused());
        }
        super::form(&self.state, &self.op, req).await
    }

    /// A deployment-wide change (creating a tenant): an owner, or an admin
    /// of every tenant.
    pub(super) async fn change_all(&self, req: Request) -> Result<Form, Response> {
        if !self.op.can_change_every_tenant() {
            return Err(self.refused());
        }
        super::form(&self.state, &self.op, req).await
    }

    /// An owner's change (admin tokens).
    pub(super) async fn change_as_owner(&self, req: Request) -> Result<Form, Response> {
        if !self.op.is_owner() {
            return Err(self.refused());
        }
        super::form(&self.state, &self.op, req).await
    }

    /// Records a change by this operator, with its IP (never with a secret
    /// in `detail`).
    pub(super) async fn record(
        &self,
        tenant: &str,
        kind: &'static str,
        subject: String,
        detail: serde_json::Value,
    ) {
        crate::events::Record::new(tenant, kind, self.op.actor())
            .ip(self.op.ip)
            .subject(subject)
            .detail(detail)
            .save(&self.state)
            .await;
    }
}

/// A field's value trimmed, `None` when absent or blank.
pub(super) fn opt(f: &Form, name: &str) -> Option<String> {
    let v = f.text(name);
    (!v.is_empty()).then(|| v.to_string())
}

/// A textarea of one value per line (blank lines skipped).
pub(super) fn lines(f: &Form, name: &str) -> Vec<String> {
    f.get(name)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Drops what this node caches about a tenant (its record and the Host
/// entries of its domains), as the admin API does after a change.
pub(super) fn forget_tenant(state: &AppState, tenant: &keygate_core::model::Tenant) {
    state.tenants.remove(&tenant.id);
    for origin in &tenant.domains {
        if let Some(authority) = keygate_core::redirect::origin_authority(origin) {
            state.hosts.remove(&authority);
        }
    }
}

/// Drops this node's cached copy of a client.
pub(super) fn forget_client(state: &AppState, tenant: &str, client_id: &str) {
    state
        .clients
        .remove(&(tenant.to_string(), client_id.to_string()));
}

/// A 303 to another console page.
pub(super) fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[derive(Template)]
#[template(path = "console/problem.html")]
struct ProblemPage<'a> {
    message: &'a str,
    back: &'a str,
}

/// A secret shown once (a client secret, a new password, an admin token).
#[derive(Template)]
#[template(path = "console/secret.html")]
pub(super) struct SecretPage<'a> {
    pub heading: &'a str,
    /// What the secret is ("Client secret").
    pub label: &'a str,
    pub secret: &'a str,
    /// What it belongs to, shown above it.
    pub about: &'a str,
    pub back: &'a str,
    pub back_text: &'a str,
}

/// A confirmation before an irreversible change.
#[derive(Template)]
#[template(path = "console/confirm.html")]
pub(super) struct ConfirmPage<'a> {
    pub heading: &'a str,
    pub message: &'a str,
    pub action: &'a str,
    pub button: &'a str,
    pub back: &'a str,
    pub csrf: &'a str,
}

/// The page listing tenants to pick one for a resource (clients, users,
/// keys); an operator of one tenant goes straight to it.
#[derive(Template)]
#[template(path = "console/pick.html")]
pub(super) struct PickPage<'a> {
    pub heading: &'a str,
    /// The tenants' ids and the links to the resource in each.
    pub tenants: Vec<(String, String)>,
}

/// The tenant picker for `/admin/{resource}`.
pub(super) async fn pick(ctx: &Ctx, nav: &'static str, heading: &str, resource: &str) -> Response {
    if let Some(t) = &ctx.op.tenant {
        return see_other(&format!("/admin/tenants/{t}/{resource}"));
    }
    let tenants = match ctx.state.store.list_tenants("", 500).await {
        Ok(t) => t,
        Err(e) => return ctx.provision_error(e.into(), "/admin/"),
    };
    ctx.page(
        nav,
        heading,
        PickPage {
            heading,
            tenants: tenants
                .into_iter()
                .map(|t| {
                    let href = format!("/admin/tenants/{}/{resource}", t.id);
                    (t.id, href)
                })
                .collect(),
        },
    )
}
