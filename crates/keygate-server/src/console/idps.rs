//! Upstream identity providers of a tenant in the console: the list, a
//! new provider (its client secret typed in a password input, sealed
//! under the master key and never shown back), its settings (a blank
//! secret keeps the stored one), and deletion after a confirmation.

use super::resources::{lines, opt, see_other, when, ConfirmPage, Ctx};
use crate::admin::views::IdpView;
use crate::provisioning::{self as provision, IdpPatch, IdpSecret, NewIdp};
use askama::Template;
use axum::extract::{Path, Request};
use axum::response::Response;
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/upstreams";

#[derive(Template)]
#[template(path = "console/idps.html")]
struct ListPage {
    tenant: String,
    idps: Vec<IdpView>,
    may_change: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/idp.html")]
struct ShowPage {
    idp: IdpView,
    scopes: String,
    created: String,
    may_change: bool,
    csrf: String,
    saved: bool,
}

/// `GET /admin/upstreams`: pick a tenant.
pub(super) async fn pick(ctx: Ctx) -> Response {
    super::resources::pick(&ctx, NAV, "Upstream identity providers", "upstreams").await
}

/// `GET /admin/tenants/{tenant}/upstreams`
pub(super) async fn list(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let (t, idps) = match provision::list_idps(ctx.state.store.as_ref(), &tenant).await {
        Ok(r) => r,
        Err(e) => return ctx.provision_error(e, "/admin/tenants"),
    };
    let public_url = &ctx.state.config.public_url;
    ctx.page(
        NAV,
        "Upstream identity providers",
        ListPage {
            idps: idps
                .into_iter()
                .map(|i| IdpView::new(i, &t, public_url))
                .collect(),
            may_change: ctx.op.can_change(&tenant),
            csrf: ctx.op.csrf.clone(),
            tenant,
        },
    )
}

/// `POST /admin/tenants/{tenant}/upstreams`
pub(super) async fn create(ctx: Ctx, Path(tenant): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/upstreams");
    let scopes = lines(&f, "scopes");
    let spec = NewIdp {
        name: f.text("name").to_string(),
        issuer: f.text("issuer").to_string(),
        client_id: f.text("client_id").to_string(),
        client_secret: f
            .get("client_secret")
            .filter(|s| !s.is_empty())
            .map(|s| IdpSecret(s.to_string())),
        kind: opt(&f, "kind"),
        scopes: (!scopes.is_empty()).then_some(scopes),
        authorize_url: opt(&f, "authorize_url"),
        token_url: opt(&f, "token_url"),
        userinfo_url: opt(&f, "userinfo_url"),
        claims: None,
    };
    let idp = match provision::new_idp(&tenant, &spec, crate::now(), ctx.state.keys.master()) {
        Ok(i) => i,
        Err(e) => return ctx.provision_error(e, &back),
    };
    if let Err(e) = provision::create_idp(ctx.state.store.as_ref(), &idp).await {
        return ctx.provision_error(e, &back);
    }
    ctx.record(
        &tenant,
        "admin.created",
        format!("idp:{}", idp.id),
        json!({"resource": "idp", "id": idp.id, "issuer": idp.issuer}),
    )
    .await;
    see_other(&format!("{back}/{}", idp.id))
}

async fn show_page(ctx: &Ctx, tenant: &str, id: &str, saved: bool) -> Response {
    let (t, idp) = match provision::existing_idp(ctx.state.store.as_ref(), tenant, id).await {
        Ok(r) => r,
        Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/upstreams")),
    };
    let view = IdpView::new(idp, &t, &ctx.state.config.public_url);
    ctx.page(
        NAV,
        &view.name.clone(),
        ShowPage {
            scopes: view.scopes.join("\n"),
            created: when(view.created_at),
            may_change: ctx.op.can_change(tenant),
            csrf: ctx.op.csrf.clone(),
            saved,
            idp: view,
        },
    )
}

/// `GET /admin/tenants/{tenant}/upstreams/{id}`
pub(super) async fn show(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    show_page(&ctx, &tenant, &id, false).await
}

/// `POST /admin/tenants/{tenant}/upstreams/{id}`: a blank secret keeps the stored one.
pub(super) async fn update(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/upstreams/{id}");
    let secret = f
        .get("client_secret")
        .filter(|s| !s.is_empty())
        .map(|s| Some(IdpSecret(s.to_string())));
    let patch = IdpPatch {
        name: Some(f.text("name").to_string()),
        issuer: Some(f.text("issuer").to_string()),
        client_id: Some(f.text("client_id").to_string()),
        client_secret: secret,
        scopes: Some(lines(&f, "scopes")),
        ..Default::default()
    };
    let changed_secret = patch.client_secret.is_some();
    if let Err(e) = provision::update_idp(
        ctx.state.store.as_ref(),
        &tenant,
        &id,
        &patch,
        Some(ctx.state.keys.master()),
    )
    .await
    {
        return ctx.provision_error(e, &back);
    }
    ctx.record(
        &tenant,
        "admin.updated",
        format!("idp:{id}"),
        json!({"resource": "idp", "id": id, "client_secret_changed": changed_secret}),
    )
    .await;
    show_page(&ctx, &tenant, &id, true).await
}

/// `GET /admin/tenants/{tenant}/upstreams/{id}/delete`
pub(super) async fn confirm_delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let idp = match provision::existing_idp(ctx.state.store.as_ref(), &tenant, &id).await {
        Ok((_, i)) => i,
        Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/upstreams")),
    };
    let path = format!("/admin/tenants/{tenant}/upstreams/{id}");
    let message = format!(
        "Deleting '{}' removes its button from the sign-in page and unlinks the accounts that used it; the accounts stay.",
        idp.name
    );
    ctx.page(
        NAV,
        "Delete upstream",
        ConfirmPage {
            heading: "Delete upstream identity provider",
            message: &message,
            action: &format!("{path}/delete"),
            button: "Delete the provider",
            back: &path,
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/tenants/{tenant}/upstreams/{id}/delete`
pub(super) async fn delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    if let Err(r) = ctx.change(&tenant, req).await {
        return r;
    }
    let back = format!("/admin/tenants/{tenant}/upstreams");
    if let Err(e) = provision::delete_idp(ctx.state.store.as_ref(), &tenant, &id).await {
        return ctx.provision_error(e, &back);
    }
    ctx.record(
        &tenant,
        "admin.deleted",
        format!("idp:{id}"),
        json!({"resource": "idp", "id": id}),
    )
    .await;
    see_other(&back)
}
