//! APIs (resource servers) of a tenant in the console: the list, a new
//! API, its name, scopes, token lifetime and algorithm, and deletion after
//! a confirmation. Identifiers are URIs, so they travel percent-encoded in
//! the pages' paths.

use super::resources::{lines, opt, see_other, when, ConfirmPage, Ctx};
use crate::admin::views::ApiView;
use crate::provisioning::{self as provision, ApiPatch, NewApi, Ttl};
use askama::Template;
use axum::extract::{Path, Request};
use axum::response::Response;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/apis";

/// An identifier as one path segment.
fn seg(identifier: &str) -> String {
    utf8_percent_encode(identifier, NON_ALPHANUMERIC).to_string()
}

/// An API as listed: its view and the path segment of its identifier.
pub(super) struct Item {
    pub api: ApiView,
    pub seg: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/apis.html")]
struct ListPage {
    tenant: String,
    apis: Vec<Item>,
    may_change: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/api.html")]
struct ShowPage {
    tenant: String,
    item: Item,
    scopes: String,
    ttl: String,
    alg: String,
    algs: [&'static str; 4],
    may_change: bool,
    csrf: String,
    saved: bool,
}

const ALGS: [&str; 4] = ["", "RS256", "ES256", "EdDSA"];

/// `GET /admin/apis`: pick a tenant.
pub(super) async fn pick(ctx: Ctx) -> Response {
    super::resources::pick(&ctx, NAV, "APIs", "apis").await
}

fn item(api: keygate_core::model::Api) -> Item {
    Item {
        seg: seg(&api.identifier),
        created: when(api.created_at),
        api: api.into(),
    }
}

/// `GET /admin/tenants/{tenant}/apis`
pub(super) async fn list(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    if let Err(e) = provision::existing_tenant(ctx.state.store.as_ref(), &tenant).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    let apis = match ctx.state.store.list_apis(&tenant).await {
        Ok(a) => a,
        Err(e) => return ctx.provision_error(e.into(), "/admin/tenants"),
    };
    ctx.page(
        NAV,
        "APIs",
        ListPage {
            apis: apis.into_iter().map(item).collect(),
            may_change: ctx.op.can_change(&tenant),
            csrf: ctx.op.csrf.clone(),
            tenant,
        },
    )
}

fn ttl(f: &super::Form) -> Option<Ttl> {
    opt(f, "access_token_ttl").map(|s| match s.parse::<i64>() {
        Ok(n) => Ttl::Seconds(n),
        Err(_) => Ttl::Text(s),
    })
}

/// `POST /admin/tenants/{tenant}/apis`
pub(super) async fn create(ctx: Ctx, Path(tenant): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/apis");
    let spec = NewApi {
        identifier: f.text("identifier").to_string(),
        name: opt(&f, "name"),
        scopes: lines(&f, "scopes"),
        access_token_ttl: ttl(&f),
        signing_alg: opt(&f, "signing_alg"),
    };
    let api = match provision::api_from_spec(&tenant, &spec, crate::now()) {
        Ok(a) => a,
        Err(e) => return ctx.provision_error(e, &back),
    };
    if let Err(e) = provision::create_api(ctx.state.store.as_ref(), &api).await {
        return ctx.provision_error(e, &back);
    }
    forget(&ctx, &tenant, &api.identifier);
    ctx.record(
        &tenant,
        "admin.created",
        format!("api:{}", api.identifier),
        json!({"resource": "api", "identifier": api.identifier}),
    )
    .await;
    see_other(&format!("{back}/{}", seg(&api.identifier)))
}

fn forget(ctx: &Ctx, tenant: &str, identifier: &str) {
    ctx.state
        .apis
        .remove(&(tenant.to_string(), identifier.to_string()));
    ctx.state.tenant_apis.remove(&tenant.to_string());
}

async fn show_page(ctx: &Ctx, api: keygate_core::model::Api, saved: bool) -> Response {
    ctx.page(
        NAV,
        &api.name.clone(),
        ShowPage {
            tenant: api.tenant_id.clone(),
            scopes: api.scopes.join("\n"),
            ttl: api
                .access_token_ttl
                .map(|t| t.to_string())
                .unwrap_or_default(),
            alg: api
                .signing_alg
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            algs: ALGS,
            may_change: ctx.op.can_change(&api.tenant_id),
            csrf: ctx.op.csrf.clone(),
            saved,
            item: item(api),
        },
    )
}

/// `GET /admin/tenants/{tenant}/apis/{identifier}`
pub(super) async fn show(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    match provision::existing_api(ctx.state.store.as_ref(), &tenant, &id).await {
        Ok(a) => show_page(&ctx, a, false).await,
        Err(e) => ctx.provision_error(e, &format!("/admin/tenants/{tenant}/apis")),
    }
}

/// `POST /admin/tenants/{tenant}/apis/{identifier}`
pub(super) async fn update(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/apis/{}", seg(&id));
    let patch = ApiPatch {
        name: Some(f.text("name").to_string()),
        scopes: Some(lines(&f, "scopes")),
        access_token_ttl: ttl(&f),
        signing_alg: opt(&f, "signing_alg"),
    };
    let api = match provision::update_api(ctx.state.store.as_ref(), &tenant, &id, &patch).await {
        Ok(a) => a,
        Err(e) => return ctx.provision_error(e, &back),
    };
    forget(&ctx, &tenant, &id);
    ctx.record(
        &tenant,
        "admin.updated",
        format!("api:{id}"),
        json!({"resource": "api", "identifier": id}),
    )
    .await;
    show_page(&ctx, api, true).await
}

/// `GET /admin/tenants/{tenant}/apis/{identifier}/delete`
pub(super) async fn confirm_delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    if let Err(e) = provision::existing_api(ctx.state.store.as_ref(), &tenant, &id).await {
        return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/apis"));
    }
    let path = format!("/admin/tenants/{tenant}/apis/{}", seg(&id));
    let message = format!(
        "Deleting the API '{id}' removes its scopes and the clients' grants to it: no new token is issued for it."
    );
    ctx.page(
        NAV,
        "Delete API",
        ConfirmPage {
            heading: "Delete API",
            message: &message,
            action: &format!("{path}/delete"),
            button: "Delete the API",
            back: &path,
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/tenants/{tenant}/apis/{identifier}/delete`
pub(super) async fn delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    if let Err(r) = ctx.change(&tenant, req).await {
        return r;
    }
    let back = format!("/admin/tenants/{tenant}/apis");
    if let Err(e) = provision::delete_api(ctx.state.store.as_ref(), &tenant, &id).await {
        return ctx.provision_error(e, &back);
    }
    forget(&ctx, &tenant, &id);
    ctx.record(
        &tenant,
        "admin.deleted",
        format!("api:{id}"),
        json!({"resource": "api", "identifier": id}),
    )
    .await;
    see_other(&back)
}
