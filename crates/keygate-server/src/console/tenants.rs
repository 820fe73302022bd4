//! Tenants in the console: the list (an operator of one tenant sees only
//! it), a new tenant, a tenant's settings (the fields of `PATCH
//! /admin/v1/tenants/{t}`), and deletion after a confirmation page.
//! Creating and deleting tenants is for operators of every tenant, and
//! their events are deployment-wide (tenant ""), as the events' rules say.

use super::resources::{forget_tenant, lines, opt, see_other, when, ConfirmPage, Ctx};
use crate::provisioning::{self as provision, NewTenant, TenantPatch};
use askama::Template;
use axum::extract::Path;
use axum::extract::Request;
use axum::response::Response;
use keygate_core::model::{
    DynamicRegistration, MetadataDocuments, MfaPolicy, Registration, Tenant, VerifyEmail,
};
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/tenants";

/// One `<select>` of a tenant's settings: its name, label, choices and
/// the current value.
pub(super) struct Choice {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<&'static str>,
    pub current: String,
}

fn choices(t: Option<&Tenant>) -> Vec<Choice> {
    let split = |c: &'static str| c.split('|').collect::<Vec<_>>();
    let d = Tenant::new("x", "x", 0);
    let t = t.unwrap_or(&d);
    vec![
        Choice {
            name: "registration",
            label: "Self-registration",
            options: split(Registration::CHOICES),
            current: t.registration.as_str().into(),
        },
        Choice {
            name: "verify_email",
            label: "E-mail verification",
            options: split(VerifyEmail::CHOICES),
            current: t.verify_email.as_str().into(),
        },
        Choice {
            name: "mfa",
            label: "Second factor (MFA)",
            options: split(MfaPolicy::CHOICES),
            current: t.mfa.as_str().into(),
        },
        Choice {
            name: "dynamic_registration",
            label: "Dynamic client registration",
            options: split(DynamicRegistration::CHOICES),
            current: t.dynamic_registration.as_str().into(),
        },
        Choice {
            name: "client_id_metadata_documents",
            label: "Client ID Metadata Documents",
            options: split(MetadataDocuments::CHOICES),
            current: t.client_id_metadata_documents.as_str().into(),
        },
    ]
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct ListPage {
    tenants: Vec<(String, String, String)>,
    may_create: bool,
    csrf: String,
    choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console/tenant.html")]
struct ShowPage {
    id: String,
    display_name: String,
    issuer: String,
    domains: String,
    token_rate_limit: String,
    created: String,
    choices: Vec<Choice>,
    may_change: bool,
    /// Whether this operator may delete the tenant (one of every tenant).
    may_delete: bool,
    csrf: String,
    saved: bool,
}

/// `GET /admin/tenants`
pub(super) async fn list(ctx: Ctx) -> Response {
    let rows = match &ctx.op.tenant {
        Some(t) => provision::existing_tenant(ctx.state.store.as_ref(), t)
            .await
            .map(|t| vec![t]),
        None => ctx
            .state
            .store
            .list_tenants("", 1000)
            .await
            .map_err(Into::into),
    };
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return ctx.provision_error(e, "/admin/"),
    };
    ctx.page(
        NAV,
        "Tenants",
        ListPage {
            tenants: rows
                .into_iter()
                .map(|t| (t.id, t.display_name, when(t.created_at)))
                .collect(),
            may_create: ctx.op.can_change_every_tenant(),
            csrf: ctx.op.csrf.clone(),
            choices: choices(None),
        },
    )
}

/// A setting's value from the form; blank keeps the default.
fn setting(f: &super::Form, name: &str) -> Option<String> {
    opt(f, name)
}

/// The token rate limit field: blank is the server's default.
fn rate(raw: Option<String>) -> Result<Option<i64>, String> {
    match raw {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("token_rate_limit: '{s}' is not a whole number")),
    }
}

/// `POST /admin/tenants`
pub(super) async fn create(ctx: Ctx, req: Request) -> Response {
    let f = match ctx.change_all(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let token_rate_limit = match rate(opt(&f, "token_rate_limit")) {
        Ok(r) => r,
        Err(m) => return ctx.problem(axum::http::StatusCode::BAD_REQUEST, &m, "/admin/tenants"),
    };
    let spec = NewTenant {
        id: f.text("id").trim().to_string(),
        display_name: opt(&f, "display_name"),
        domains: lines(&f, "domains"),
        token_rate_limit,
        registration: setting(&f, "registration"),
        verify_email: setting(&f, "verify_email"),
        mfa: setting(&f, "mfa"),
        dynamic_registration: setting(&f, "dynamic_registration"),
        client_id_metadata_documents: setting(&f, "client_id_metadata_documents"),
    };
    let tenant = match provision::tenant_from_spec(&spec, crate::now()) {
        Ok(t) => t,
        Err(e) => return ctx.provision_error(e, "/admin/tenants"),
    };
    if let Err(e) = provision::create_tenant(ctx.state.store.as_ref(), &tenant).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    forget_tenant(&ctx.state, &tenant);
    ctx.record(
        "",
        "admin.created",
        format!("tenant:{}", tenant.id),
        json!({"resource": "tenant", "id": tenant.id}),
    )
    .await;
    see_other(&format!("/admin/tenants/{}", tenant.id))
}

async fn show_page(ctx: &Ctx, tenant: Tenant, saved: bool) -> Response {
    let issuer = format!("{}/{}/as", ctx.state.config.public_url, tenant.id);
    ctx.page(
        NAV,
        &tenant.display_name.clone(),
        ShowPage {
            choices: choices(Some(&tenant)),
            issuer,
            domains: tenant.domains.join("\n"),
            token_rate_limit: tenant
                .token_rate_limit
                .map(|n| n.to_string())
                .unwrap_or_default(),
            created: when(tenant.created_at),
            may_change: ctx.op.can_change(&tenant.id),
            may_delete: ctx.op.can_change_every_tenant(),
            csrf: ctx.op.csrf.clone(),
            id: tenant.id,
            display_name: tenant.display_name,
            saved,
        },
    )
}

/// `GET /admin/tenants/{tenant}`
pub(super) async fn show(ctx: Ctx, Path(id): Path<String>) -> Response {
    if !ctx.op.can_read(&id) {
        return ctx.refused();
    }
    match provision::existing_tenant(ctx.state.store.as_ref(), &id).await {
        Ok(t) => show_page(&ctx, t, false).await,
        Err(e) => ctx.provision_error(e, "/admin/tenants"),
    }
}

/// `POST /admin/tenants/{tenant}`: saves every setting of the form.
pub(super) async fn update(ctx: Ctx, Path(id): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&id, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{id}");
    let token_rate_limit = match rate(opt(&f, "token_rate_limit")) {
        Ok(r) => r,
        Err(m) => return ctx.problem(axum::http::StatusCode::BAD_REQUEST, &m, &back),
    };
    let patch = TenantPatch {
        display_name: Some(f.text("display_name").to_string()),
        domains: Some(lines(&f, "domains")),
        token_rate_limit: Some(token_rate_limit),
        registration: setting(&f, "registration"),
        verify_email: setting(&f, "verify_email"),
        mfa: setting(&f, "mfa"),
        dynamic_registration: setting(&f, "dynamic_registration"),
        client_id_metadata_documents: setting(&f, "client_id_metadata_documents"),
    };
    let (before, after) =
        match provision::update_tenant(ctx.state.store.as_ref(), &id, &patch).await {
            Ok(r) => r,
            Err(e) => return ctx.provision_error(e, &back),
        };
    forget_tenant(&ctx.state, &before);
    forget_tenant(&ctx.state, &after);
    let mut changed = Vec::new();
    if before.display_name != after.display_name {
        changed.push("display_name");
    }
    if before.domains != after.domains {
        changed.push("domains");
    }
    if before.token_rate_limit != after.token_rate_limit {
        changed.push("token_rate_limit");
    }
    if before.registration != after.registration {
        changed.push("registration");
    }
    if before.verify_email != after.verify_email {
        changed.push("verify_email");
    }
    if before.mfa != after.mfa {
        changed.push("mfa");
    }
    if before.dynamic_registration != after.dynamic_registration {
        changed.push("dynamic_registration");
    }
    if before.client_id_metadata_documents != after.client_id_metadata_documents {
        changed.push("client_id_metadata_documents");
    }
    ctx.record(
        &id,
        "admin.updated",
        format!("tenant:{id}"),
        json!({"resource": "tenant", "id": id, "changed": changed}),
    )
    .await;
    show_page(&ctx, after, true).await
}

/// `GET /admin/tenants/{tenant}/delete`: what deleting takes away, and the button.
pub(super) async fn confirm_delete(ctx: Ctx, Path(id): Path<String>) -> Response {
    if !ctx.op.can_read(&id) {
        return ctx.refused();
    }
    if let Err(e) = provision::existing_tenant(ctx.state.store.as_ref(), &id).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    let message = format!(
        "Deleting the tenant '{id}' deletes its domains, clients, users, signing keys, \
         sessions and grants: every token it issued stops working. This cannot be undone."
    );
    ctx.page(
        NAV,
        "Delete tenant",
        ConfirmPage {
            heading: "Delete tenant",
            message: &message,
            action: &format!("/admin/tenants/{id}/delete"),
            button: "Delete the tenant",
            back: &format!("/admin/tenants/{id}"),
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/tenants/{tenant}/delete`
pub(super) async fn delete(ctx: Ctx, Path(id): Path<String>, req: Request) -> Response {
    if let Err(r) = ctx.change_all(req).await {
        return r;
    }
    let tenant = match provision::delete_tenant(ctx.state.store.as_ref(), &id).await {
        Ok(t) => t,
        Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{id}")),
    };
    forget_tenant(&ctx.state, &tenant);
    ctx.state.clients.remove_where(|(t, _)| *t == tenant.id);
    ctx.state.keys.forget(&tenant.id);
    ctx.record(
        "",
        "admin.deleted",
        format!("tenant:{id}"),
        json!({"resource": "tenant", "id": id}),
    )
    .await;
    see_other("/admin/tenants")
}
