//! Users of a tenant in the console: the list (paged in `sub` order) with
//! a search by e-mail address (the exact address, or the addresses
//! starting with what was typed), a new user, a user's page (profile,
//! second factors, live sessions), its profile (address, name, whether
//! the address is verified) and its actions: disable or enable,
//! reset second factors, end sessions, set a new random password (shown
//! once), delete. Actions that cannot be undone ask first.
//!
//! "Reset password" sets a new random password and shows it once to the
//! operator, who hands it over; it ends the person's sessions. (The
//! person's own "forgot password" e-mail stays on the hosted pages.)

use super::resources::{opt, see_other, when, ConfirmPage, Ctx, SecretPage};
use crate::provisioning::{self as provision, NewUser, UserPatch};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::Request;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/users";

/// How many users a page lists.
const PAGE: i64 = 50;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    email: Option<String>,
    /// `prefix`: addresses that start with `email`; otherwise the one
    /// address that is `email`.
    #[serde(default, rename = "match")]
    mode: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

/// One row of the list.
pub(super) struct Row {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct ListPage {
    tenant: String,
    users: Vec<Row>,
    email: String,
    searched: bool,
    /// Whether the search was by the start of the address.
    prefix: bool,
    /// The query string of the next page.
    next: Option<String>,
    may_change: bool,
    csrf: String,
}

/// One factor or session as listed.
pub(super) struct Line {
    pub what: String,
    pub since: String,
    pub detail: String,
}

/// A second factor, removable on its own.
pub(super) struct FactorLine {
    pub id: String,
    pub what: String,
    pub since: String,
    pub detail: String,
}

/// What the person allowed a third-party client (revocable).
pub(super) struct ConsentLine {
    pub client_id: String,
    pub resource: String,
    pub scopes: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct ShowPage {
    tenant: String,
    sub: String,
    email: String,
    name: String,
    email_verified: bool,
    disabled: bool,
    created: String,
    factors: Vec<FactorLine>,
    recovery_codes: i64,
    sessions: Vec<Line>,
    consents: Vec<ConsentLine>,
    may_change: bool,
    csrf: String,
    done: Option<&'static str>,
}

/// `GET /admin/users`: pick a tenant.
pub(super) async fn pick(ctx: Ctx) -> Response {
    super::resources::pick(&ctx, NAV, "Users", "users").await
}

/// `GET /admin/tenants/{tenant}/users[?email=E][&after=SUB]`
pub(super) async fn list(
    ctx: Ctx,
    Path(tenant): Path<String>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return ctx.problem(StatusCode::BAD_REQUEST, &e.body_text(), NAV),
    };
    let plain = |s: &Option<String>| {
        s.as_deref()
            .is_none_or(|s| s.len() <= 320 && !s.chars().any(char::is_control))
    };
    if !plain(&q.email) || !plain(&q.after) {
        return ctx.problem(
            StatusCode::BAD_REQUEST,
            "email: not an address or the start of one",
            NAV,
        );
    }
    let prefix = q.mode.as_deref() == Some("prefix");
    let store = ctx.state.store.as_ref();
    if let Err(e) = provision::existing_tenant(store, &tenant).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    let email = q.email.as_deref().map(str::trim).unwrap_or("").to_string();
    let page_of = |mut rows: Vec<keygate_core::model::User>,
                   key: fn(&keygate_core::model::User) -> String| {
        let next = (rows.len() as i64 > PAGE).then(|| {
            rows.truncate(PAGE as usize);
            rows.last().map(key).unwrap_or_default()
        });
        (rows, next)
    };
    let (users, next) = if email.is_empty() {
        let after = q.after.unwrap_or_default();
        match store.list_users(&tenant, &after, PAGE + 1).await {
            Ok(rows) => {
                let (rows, next) = page_of(rows, |u| u.sub.clone());
                (rows, next.map(|n| query(&[("after", &n)])))
            }
            Err(e) => return ctx.provision_error(e.into(), "/admin/tenants"),
        }
    } else if prefix {
        let after = q.after.unwrap_or_default();
        let start = email.to_lowercase();
        match store
            .users_by_email_prefix(&tenant, &start, &after, PAGE + 1)
            .await
        {
            Ok(rows) => {
                let (rows, next) = page_of(rows, |u| u.email.clone());
                let next =
                    next.map(|n| query(&[("email", &email), ("match", "prefix"), ("after", &n)]));
                (rows, next)
            }
            Err(e) => return ctx.provision_error(e.into(), "/admin/tenants"),
        }
    } else {
        match provision::user_by_email(store, &tenant, &email).await {
            Ok(u) => (u.into_iter().collect(), None),
            Err(e) => return ctx.provision_error(e, "/admin/tenants"),
        }
    };
    ctx.page(
        NAV,
        "Users",
        ListPage {
            users: users
                .into_iter()
                .map(|u| Row {
                    sub: u.sub,
                    email: u.email,
                    name: u.name.unwrap_or_default(),
                    disabled: u.disabled,
                })
                .collect(),
            searched: !email.is_empty(),
            prefix,
            email,
            next,
            may_change: ctx.op.can_change(&tenant),
            csrf: ctx.op.csrf.clone(),
            tenant,
        },
    )
}

/// A query string of these pairs.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

/// `POST /admin/tenants/{tenant}/users`: a new user with the password
/// typed by the operator.
pub(super) async fn create(ctx: Ctx, Path(tenant): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let spec = NewUser {
        email: f.text("email").to_string(),
        password: f.text("password").to_string(),
        name: opt(&f, "name"),
        email_verified: f.checked("email_verified"),
        ..Default::default()
    };
    let back = format!("/admin/tenants/{tenant}/users");
    let user = match provision::create_user(ctx.state.store.as_ref(), &tenant, &spec).await {
        Ok(u) => u,
        Err(e) => return ctx.provision_error(e, &back),
    };
    ctx.record(
        &tenant,
        "admin.created",
        format!("user:{}", user.sub),
        json!({"resource": "user", "sub": user.sub}),
    )
    .await;
    see_other(&format!("{back}/{}", user.sub))
}

async fn show_page(ctx: &Ctx, tenant: &str, sub: &str, done: Option<&'static str>) -> Response {
    let store = ctx.state.store.as_ref();
    let back = format!("/admin/tenants/{tenant}/users");
    let user = match provision::existing_user(store, tenant, sub).await {
        Ok(u) => u,
        Err(e) => return ctx.provision_error(e, &back),
    };
    let factors = match provision::factors(store, tenant, sub).await {
        Ok(f) => f,
        Err(e) => return ctx.provision_error(e, &back),
    };
    let sessions = match store.sessions_of(tenant, sub, crate::now()).await {
        Ok(s) => s,
        Err(e) => return ctx.provision_error(e.into(), &back),
    };
    let consents = match provision::consents(store, tenant, sub).await {
        Ok(c) => c,
        Err(e) => return ctx.provision_error(e, &back),
    };
    ctx.page(
        NAV,
        &user.email.clone(),
        ShowPage {
            tenant: tenant.to_string(),
            sub: user.sub,
            email: user.email,
            name: user.name.unwrap_or_default(),
            email_verified: user.email_verified,
            disabled: user.disabled,
            created: when(user.created_at),
            factors: factors
                .items
                .into_iter()
                .map(|f| FactorLine {
                    id: f.id,
                    what: format!("{:?}", f.kind).to_lowercase(),
                    since: when(f.created_at),
                    detail: f.name,
                })
                .collect(),
            recovery_codes: factors.recovery_codes.remaining,
            sessions: sessions
                .into_iter()
                .map(|(_, s)| Line {
                    what: s.ip.unwrap_or_else(|| "unknown IP".into()),
                    since: when(s.auth_time),
                    detail: s.user_agent.unwrap_or_default(),
                })
                .collect(),
            consents: consents
                .into_iter()
                .map(|c| ConsentLine {
                    client_id: c.client_id,
                    resource: c.resource,
                    scopes: c.scopes.join(" "),
                    since: when(c.granted_at),
                })
                .collect(),
            may_change: ctx.op.can_change(tenant),
            csrf: ctx.op.csrf.clone(),
            done,
        },
    )
}

/// `GET /admin/tenants/{tenant}/users/{sub}`
pub(super) async fn show(ctx: Ctx, Path((tenant, sub)): Path<(String, String)>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    show_page(&ctx, &tenant, &sub, None).await
}

/// The actions on a user: the button's text, what the confirmation says
/// (`None`: no confirmation needed).
fn action(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match name {
        "disable" => ("Disable", None),
        "enable" => ("Enable", None),
        "reset-factors" => (
            "Reset second factors",
            Some("Removes every second factor and recovery code of this person and ends their sessions: their next sign-in is with the password alone."),
        ),
        "end-sessions" => (
            "End sessions",
            Some("Ends every session of this person and revokes their grants: their refresh and access tokens stop working."),
        ),
        "reset-password" => (
            "Set a new password",
            Some("Sets a new random password, shown to you once, and ends this person's sessions. Their current password stops working."),
        ),
        "delete" => (
            "Delete the user",
            Some("Deletes this person, ends their sessions and revokes their grants. This cannot be undone."),
        ),
        _ => return None,
    })
}

/// `GET /admin/tenants/{tenant}/users/{sub}/{action}`: the confirmation.
pub(super) async fn confirm(
    ctx: Ctx,
    Path((tenant, sub, name)): Path<(String, String, String)>,
) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let back = format!("/admin/tenants/{tenant}/users/{sub}");
    let Some((button, message)) = action(&name) else {
        return ctx.problem(StatusCode::NOT_FOUND, "No such action.", &back);
    };
    let user = match provision::existing_user(ctx.state.store.as_ref(), &tenant, &sub).await {
        Ok(u) => u,
        Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/users")),
    };
    let message = format!(
        "{} ({}): {}",
        user.email,
        user.sub,
        message.unwrap_or("Are you sure?")
    );
    ctx.page(
        NAV,
        button,
        ConfirmPage {
            heading: button,
            message: &message,
            action: &format!("{back}/{name}"),
            button,
            back: &back,
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/tenants/{tenant}/users/{sub}/{action}`
pub(super) async fn act(
    ctx: Ctx,
    Path((tenant, sub, name)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    let form = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/users/{sub}");
    let store = ctx.state.store.as_ref();
    let subject = format!("user:{sub}");
    let updated = |changed: &str| json!({"resource": "user", "sub": sub, "changed": [changed]});
    match name.as_str() {
        "profile" => {
            let patch = UserPatch {
                email: Some(form.text("email").to_string()),
                name: opt(&form, "name"),
                email_verified: Some(form.checked("email_verified")),
                ..Default::default()
            };
            let before = match provision::existing_user(store, &tenant, &sub).await {
                Ok(u) => u,
                Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/users")),
            };
            let after = match provision::update_user(store, &tenant, &sub, &patch).await {
                Ok(u) => u,
                Err(e) => return ctx.provision_error(e, &back),
            };
            let mut changed = Vec::new();
            if before.email != after.email {
                changed.push("email");
            }
            if before.name != after.name {
                changed.push("name");
            }
            if before.email_verified != after.email_verified {
                changed.push("email_verified");
            }
            ctx.record(
                &tenant,
                "admin.updated",
                subject,
                json!({"resource": "user", "sub": sub, "changed": changed}),
            )
            .await;
            let done = if before.email != after.email {
                "Saved; a new address ended the person's sessions."
            } else {
                "Saved."
            };
            show_page(&ctx, &tenant, &sub, Some(done)).await
        }
        "disable" | "enable" => {
            let disabled = name == "disable";
            let patch = UserPatch {
                disabled: Some(disabled),
                ..Default::default()
            };
            if let Err(e) = provision::update_user(store, &tenant, &sub, &patch).await {
                return ctx.provision_error(e, &back);
            }
            ctx.record(&tenant, "admin.updated", subject, updated("disabled"))
                .await;
            show_page(
                &ctx,
                &tenant,
                &sub,
                Some(if disabled {
                    "The user is disabled; their sessions ended."
                } else {
                    "The user is enabled."
                }),
            )
            .await
        }
        "reset-factors" => {
            if let Err(e) = provision::reset_factors(store, &tenant, &sub).await {
                return ctx.provision_error(e, &back);
            }
            ctx.record(&tenant, "admin.updated", subject, updated("factors"))
                .await;
            show_page(
                &ctx,
                &tenant,
                &sub,
                Some("Second factors reset; sessions ended."),
            )
            .await
        }
        "end-sessions" => {
            if let Err(e) = provision::existing_user(store, &tenant, &sub).await {
                return ctx.provision_error(e, &back);
            }
            if let Err(e) = store.end_sessions_of(&tenant, &sub, crate::now()).await {
                return ctx.provision_error(e.into(), &back);
            }
            crate::backchannel::wake();
            ctx.record(&tenant, "admin.updated", subject, updated("sessions"))
                .await;
            show_page(&ctx, &tenant, &sub, Some("Every session ended.")).await
        }
        "reset-password" => {
            let password = keygate_crypto::secrets::random_token(15);
            let patch = UserPatch {
                password: Some(password.clone()),
                ..Default::default()
            };
            let user = match provision::update_user(store, &tenant, &sub, &patch).await {
                Ok(u) => u,
                Err(e) => return ctx.provision_error(e, &back),
            };
            ctx.record(&tenant, "admin.updated", subject, updated("password"))
                .await;
            ctx.page(
                NAV,
                "New password",
                SecretPage {
                    heading: "New password",
                    label: "Password",
                    secret: &password,
                    about: &format!("For {}. Their sessions ended.", user.email),
                    back: &back,
                    back_text: "Back to the user",
                },
            )
        }
        "remove-factor" => {
            let id = form.text("id").to_string();
            if let Err(e) = provision::remove_factor(store, &tenant, &sub, &id).await {
                return ctx.provision_error(e, &back);
            }
            ctx.record(
                &tenant,
                "admin.updated",
                subject,
                json!({"resource": "user", "sub": sub, "changed": ["factors"], "factor": id}),
            )
            .await;
            show_page(&ctx, &tenant, &sub, Some("The second factor was removed.")).await
        }
        "revoke-consent" => {
            let client_id = form.text("client_id").to_string();
            let now = crate::now();
            if let Err(e) = provision::revoke_consent(store, &tenant, &sub, &client_id, now).await {
                return ctx.provision_error(e, &back);
            }
            ctx.record(
                &tenant,
                "admin.deleted",
                subject,
                json!({"resource": "consent", "sub": sub, "client_id": client_id}),
            )
            .await;
            show_page(
                &ctx,
                &tenant,
                &sub,
                Some("The consent was revoked, with the grants it allowed."),
            )
            .await
        }
        "delete" => {
            if let Err(e) = provision::delete_user(store, &tenant, &sub).await {
                return ctx.provision_error(e, &back);
            }
            ctx.record(
                &tenant,
                "admin.deleted",
                subject,
                json!({"resource": "user", "sub": sub}),
            )
            .await;
            see_other(&format!("/admin/tenants/{tenant}/users"))
        }
        _ => ctx.problem(StatusCode::NOT_FOUND, "No such action.", &back),
    }
}
