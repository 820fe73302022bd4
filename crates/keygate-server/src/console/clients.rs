//! Clients of a tenant in the console: the list, a new client (its secret
//! shown once, on the answer to the form, never again), a client's main
//! settings, a new secret (shown once), and deletion after a confirmation.

use super::resources::{forget_client, lines, opt, see_other, when, ConfirmPage, Ctx, SecretPage};
use crate::provisioning::{self as provision, ClientPatch, NewClient, Ttl};
use askama::Template;
use axum::extract::Path;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use keygate_core::model::Client;
#[cfg(test)]
use keygate_core::model::GrantType;
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/clients";

/// The grants offered as checkboxes (`grant_NAME`).
const GRANTS: [(&str, &str); 5] = [
    ("authorization_code", "Authorization code"),
    ("refresh_token", "Refresh token"),
    ("client_credentials", "Client credentials"),
    (
        "urn:ietf:params:oauth:grant-type:device_code",
        "Device code",
    ),
    (
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "Token exchange",
    ),
];

/// A checkbox: its field name, label and whether it is ticked.
pub(super) struct Check {
    pub name: String,
    pub label: &'static str,
    pub on: bool,
}

fn grant_checks(c: Option<&Client>) -> Vec<Check> {
    GRANTS
        .iter()
        .enumerate()
        .map(|(i, (g, label))| Check {
            name: format!("grant_{i}"),
            label,
            on: match c {
                Some(c) => c.grant_types.iter().any(|x| x.as_str() == *g),
                None => i < 2,
            },
        })
        .collect()
}

fn grants_of(f: &super::Form) -> Vec<String> {
    GRANTS
        .iter()
        .enumerate()
        .filter(|(i, _)| f.checked(&format!("grant_{i}")))
        .map(|(_, (g, _))| g.to_string())
        .collect()
}

fn flag_checks(c: &Client) -> Vec<Check> {
    let check = |name: &str, label, on| Check {
        name: name.into(),
        label,
        on,
    };
    vec![
        check(
            "require_mfa",
            "Every sign-in needs a second factor",
            c.require_mfa,
        ),
        check(
            "third_party",
            "Third party (people consent to what it asks)",
            c.third_party,
        ),
        check("journeys_api", "May use the Journeys API", c.journeys_api),
        check(
            "require_par",
            "Requires pushed authorization requests",
            c.require_par,
        ),
        check("require_dpop", "Requires DPoP proofs", c.require_dpop),
    ]
}

const REFRESH: [&str; 3] = ["offline_access", "always", "never"];

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ListPage {
    tenant: String,
    clients: Vec<(String, String, &'static str)>,
    may_change: bool,
    csrf: String,
    grants: Vec<Check>,
    refresh: [&'static str; 3],
}

#[derive(Template)]
#[template(path = "console/client.html")]
struct ShowPage {
    tenant: String,
    id: String,
    name: String,
    kind: &'static str,
    auth_method: &'static str,
    has_secret: bool,
    created: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    web_origins: String,
    grants: Vec<Check>,
    refresh: [&'static str; 3],
    refresh_current: &'static str,
    access_token_ttl: i64,
    id_token_ttl: i64,
    flags: Vec<Check>,
    /// Its grants of APIs for itself (client_credentials): API, scopes.
    api_grants: Vec<(String, String)>,
    /// The tenant's APIs it could be granted, with their scopes.
    apis: Vec<(String, String)>,
    is_public: bool,
    may_change: bool,
    csrf: String,
    saved: bool,
}

/// `GET /admin/clients`: pick a tenant.
pub(super) async fn pick(ctx: Ctx) -> Response {
    super::resources::pick(&ctx, NAV, "Clients", "clients").await
}

/// `GET /admin/tenants/{tenant}/clients`
pub(super) async fn list(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    if let Err(e) = provision::existing_tenant(ctx.state.store.as_ref(), &tenant).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    let rows = match ctx.state.store.list_clients(&tenant, "", 1000).await {
        Ok(r) => r,
        Err(e) => return ctx.provision_error(e.into(), "/admin/tenants"),
    };
    ctx.page(
        NAV,
        "Clients",
        ListPage {
            clients: rows
                .into_iter()
                .map(|c| {
                    let kind = if c.public { "public" } else { "confidential" };
                    (c.id, c.name, kind)
                })
                .collect(),
            may_change: ctx.op.can_change(&tenant),
            csrf: ctx.op.csrf.clone(),
            grants: grant_checks(None),
            refresh: REFRESH,
            tenant,
        },
    )
}

/// `POST /admin/tenants/{tenant}/clients`: creates the client and shows
/// its secret this once.
pub(super) async fn create(ctx: Ctx, Path(tenant): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/clients");
    let public = f.text("type") == "public";
    let spec = NewClient {
        name: f.text("name").to_string(),
        public,
        auth_method: if public { None } else { opt(&f, "auth_method") },
        grant_types: grants_of(&f),
        redirect_uris: lines(&f, "redirect_uris"),
        post_logout_redirect_uris: lines(&f, "post_logout_redirect_uris"),
        web_origins: lines(&f, "web_origins"),
        refresh_tokens: opt(&f, "refresh_tokens"),
        ..Default::default()
    };
    if spec.grant_types.is_empty() {
        return ctx.problem(
            StatusCode::BAD_REQUEST,
            "grant_types: choose at least one grant",
            &back,
        );
    }
    let (client, secret) =
        match provision::new_client(&tenant, &spec, crate::now(), ctx.state.keys.master()) {
            Ok(c) => c,
            Err(e) => return ctx.provision_error(e, &back),
        };
    if let Err(e) = provision::create_client(ctx.state.store.as_ref(), &client).await {
        return ctx.provision_error(e, &back);
    }
    forget_client(&ctx.state, &tenant, &client.id);
    ctx.record(
        &tenant,
        "admin.created",
        format!("client:{}", client.id),
        json!({"resource": "client", "id": client.id, "name": client.name, "public": client.public}),
    )
    .await;
    let show = format!("/admin/tenants/{tenant}/clients/{}", client.id);
    match secret {
        Some(secret) => ctx.page(
            NAV,
            "Client created",
            SecretPage {
                heading: "Client created",
                label: "Client secret",
                secret: &secret,
                about: &format!("Client ID: {}", client.id),
                back: &show,
                back_text: "Go to the client",
            },
        ),
        None => see_other(&show),
    }
}

async fn show_page(ctx: &Ctx, c: Client, saved: bool) -> Response {
    let store = ctx.state.store.as_ref();
    let back = format!("/admin/tenants/{}/clients", c.tenant_id);
    let api_grants = match store.client_grants(&c.tenant_id, &c.id).await {
        Ok(g) => g,
        Err(e) => return ctx.provision_error(e.into(), &back),
    };
    let apis = match store.list_apis(&c.tenant_id).await {
        Ok(a) => a,
        Err(e) => return ctx.provision_error(e.into(), &back),
    };
    ctx.page(
        NAV,
        &c.name.clone(),
        ShowPage {
            kind: if c.public { "public" } else { "confidential" },
            auth_method: c.auth_method.as_str(),
            has_secret: c.secret_hash.is_some(),
            created: when(c.created_at),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            web_origins: c.web_origins.join("\n"),
            grants: grant_checks(Some(&c)),
            refresh: REFRESH,
            refresh_current: c.refresh_policy.as_str(),
            access_token_ttl: c.access_token_ttl,
            id_token_ttl: c.id_token_ttl,
            flags: flag_checks(&c),
            api_grants: api_grants
                .into_iter()
                .map(|g| (g.api, g.scopes.join(" ")))
                .collect(),
            apis: apis
                .into_iter()
                .map(|a| (a.identifier, a.scopes.join(" ")))
                .collect(),
            is_public: c.public,
            may_change: ctx.op.can_change(&c.tenant_id),
            csrf: ctx.op.csrf.clone(),
            saved,
            tenant: c.tenant_id,
            id: c.id,
            name: c.name,
        },
    )
}

/// `GET /admin/tenants/{tenant}/clients/{id}`
pub(super) async fn show(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    match provision::existing_client(ctx.state.store.as_ref(), &tenant, &id).await {
        Ok(c) => show_page(&ctx, c, false).await,
        Err(e) => ctx.provision_error(e, &format!("/admin/tenants/{tenant}/clients")),
    }
}

fn ttl(f: &super::Form, name: &str) -> Option<Ttl> {
    opt(f, name).map(|s| match s.parse::<i64>() {
        Ok(n) => Ttl::Seconds(n),
        Err(_) => Ttl::Text(s),
    })
}

/// `POST /admin/tenants/{tenant}/clients/{id}`: saves the main settings.
pub(super) async fn update(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/clients/{id}");
    let grants = grants_of(&f);
    if grants.is_empty() {
        return ctx.problem(
            StatusCode::BAD_REQUEST,
            "grant_types: choose at least one grant",
            &back,
        );
    }
    let patch = ClientPatch {
        name: Some(f.text("name").to_string()),
        redirect_uris: Some(lines(&f, "redirect_uris")),
        post_logout_redirect_uris: Some(lines(&f, "post_logout_redirect_uris")),
        web_origins: Some(lines(&f, "web_origins")),
        grant_types: Some(grants),
        refresh_tokens: opt(&f, "refresh_tokens"),
        access_token_ttl: ttl(&f, "access_token_ttl"),
        id_token_ttl: ttl(&f, "id_token_ttl"),
        require_mfa: Some(f.checked("require_mfa")),
        third_party: Some(f.checked("third_party")),
        journeys_api: Some(f.checked("journeys_api")),
        require_par: Some(f.checked("require_par")),
        require_dpop: Some(f.checked("require_dpop")),
        ..Default::default()
    };
    let before = match provision::existing_client(ctx.state.store.as_ref(), &tenant, &id).await {
        Ok(c) => c,
        Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/clients")),
    };
    let after = match provision::update_client(ctx.state.store.as_ref(), &tenant, &id, &patch).await
    {
        Ok(c) => c,
        Err(e) => return ctx.provision_error(e, &back),
    };
    forget_client(&ctx.state, &tenant, &id);
    let changed = changed_fields(&before, &after);
    ctx.record(
        &tenant,
        "admin.updated",
        format!("client:{id}"),
        json!({"resource": "client", "id": id, "changed": changed}),
    )
    .await;
    show_page(&ctx, after, true).await
}

/// The names of the settings that differ (never their values' secrets:
/// a client's settings hold none).
fn changed_fields(a: &Client, b: &Client) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut diff = |name, d: bool| {
        if d {
            out.push(name)
        }
    };
    diff("name", a.name != b.name);
    diff("redirect_uris", a.redirect_uris != b.redirect_uris);
    diff(
        "post_logout_redirect_uris",
        a.post_logout_redirect_uris != b.post_logout_redirect_uris,
    );
    diff("web_origins", a.web_origins != b.web_origins);
    diff("grant_types", a.grant_types != b.grant_types);
    diff("refresh_tokens", a.refresh_policy != b.refresh_policy);
    diff("access_token_ttl", a.access_token_ttl != b.access_token_ttl);
    diff("id_token_ttl", a.id_token_ttl != b.id_token_ttl);
    diff("require_mfa", a.require_mfa != b.require_mfa);
    diff("third_party", a.third_party != b.third_party);
    diff("journeys_api", a.journeys_api != b.journeys_api);
    diff("require_par", a.require_par != b.require_par);
    diff("require_dpop", a.require_dpop != b.require_dpop);
    out
}

/// `POST /admin/tenants/{tenant}/clients/{id}/secret`: a new secret,
/// shown this once; the old one stops working at once.
pub(super) async fn rotate(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    if let Err(r) = ctx.change(&tenant, req).await {
        return r;
    }
    let back = format!("/admin/tenants/{tenant}/clients/{id}");
    let secret = match provision::rotate_client_secret(
        ctx.state.store.as_ref(),
        &tenant,
        &id,
        ctx.state.keys.master(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return ctx.provision_error(e, &back),
    };
    forget_client(&ctx.state, &tenant, &id);
    ctx.record(
        &tenant,
        "admin.updated",
        format!("client:{id}"),
        json!({"resource": "client", "id": id, "changed": ["client_secret"]}),
    )
    .await;
    ctx.page(
        NAV,
        "New client secret",
        SecretPage {
            heading: "New client secret",
            label: "Client secret",
            secret: &secret,
            about: &format!("Client ID: {id}. The previous secret no longer works."),
            back: &back,
            back_text: "Back to the client",
        },
    )
}

/// `GET /admin/tenants/{tenant}/clients/{id}/delete`
pub(super) async fn confirm_delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let c = match provision::existing_client(ctx.state.store.as_ref(), &tenant, &id).await {
        Ok(c) => c,
        Err(e) => return ctx.provision_error(e, &format!("/admin/tenants/{tenant}/clients")),
    };
    let message = format!(
        "Deleting the client '{}' ({id}) revokes its grants: its refresh and access tokens stop working.",
        c.name
    );
    ctx.page(
        NAV,
        "Delete client",
        ConfirmPage {
            heading: "Delete client",
            message: &message,
            action: &format!("/admin/tenants/{tenant}/clients/{id}/delete"),
            button: "Delete the client",
            back: &format!("/admin/tenants/{tenant}/clients/{id}"),
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/tenants/{tenant}/clients/{id}/delete`
pub(super) async fn delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    if let Err(r) = ctx.change(&tenant, req).await {
        return r;
    }
    let back = format!("/admin/tenants/{tenant}/clients");
    if let Err(e) = provision::delete_client(ctx.state.store.as_ref(), &tenant, &id).await {
        return ctx.provision_error(e, &back);
    }
    forget_client(&ctx.state, &tenant, &id);
    ctx.record(
        &tenant,
        "admin.deleted",
        format!("client:{id}"),
        json!({"resource": "client", "id": id}),
    )
    .await;
    see_other(&back)
}

/// `POST /admin/tenants/{tenant}/clients/{id}/api-grants`: grants the
/// client scopes of an API for itself (replacing an earlier grant of that
/// API), or, with `revoke`, removes its grant of the API.
pub(super) async fn api_grant(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/clients/{id}");
    let store = ctx.state.store.as_ref();
    let api = f.text("api").to_string();
    if f.checked("revoke") {
        if let Err(e) = provision::revoke_client_grant(store, &tenant, &id, &api).await {
            return ctx.provision_error(e, &back);
        }
        ctx.record(
            &tenant,
            "admin.deleted",
            format!("client:{id}"),
            json!({"resource": "grant", "id": id, "api": api}),
        )
        .await;
    } else {
        let spec = provision::NewClientGrant {
            api: api.clone(),
            scopes: f
                .text("scopes")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        };
        if let Err(e) = provision::grant_client(store, &tenant, &id, &spec).await {
            return ctx.provision_error(e, &back);
        }
        ctx.record(
            &tenant,
            "admin.updated",
            format!("client:{id}"),
            json!({"resource": "grant", "id": id, "api": api, "scopes": spec.scopes}),
        )
        .await;
    }
    see_other(&back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_grants_are_grants() {
        for (g, _) in GRANTS {
            assert!(GrantType::parse(g).is_some(), "{g}");
        }
    }
}
