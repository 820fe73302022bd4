//! Signing keys of a tenant in the console: the list (key id, algorithm,
//! when each signs and retires) and a rotation through the key ring, the
//! code `keygate keys rotate` uses: the new key is published at once and
//! signs after a lead time; the keys it replaces stay published until every
//! token they signed has expired.

use super::resources::{when, Ctx};
use askama::Template;
use axum::extract::Path;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use keygate_core::model::SigningAlg;
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/keys";

/// The lead time of a rotation from the console, as the CLI's default.
const LEAD_SECONDS: i64 = 15 * 60;

/// One key as listed.
pub(super) struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub created: String,
    pub activates: String,
    pub retires: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct ListPage {
    tenant: String,
    keys: Vec<KeyRow>,
    may_change: bool,
    csrf: String,
    done: Option<String>,
}

/// `GET /admin/keys`: pick a tenant.
pub(super) async fn pick(ctx: Ctx) -> Response {
    super::resources::pick(&ctx, NAV, "Signing keys", "keys").await
}

async fn list_page(ctx: &Ctx, tenant: String, done: Option<String>) -> Response {
    if let Err(e) = crate::provisioning::existing_tenant(ctx.state.store.as_ref(), &tenant).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    let keys = match ctx.state.store.signing_keys(&tenant).await {
        Ok(k) => k,
        Err(e) => return ctx.provision_error(e.into(), "/admin/tenants"),
    };
    ctx.page(
        NAV,
        "Signing keys",
        ListPage {
            keys: keys
                .into_iter()
                .rev()
                .map(|k| KeyRow {
                    kid: k.kid,
                    alg: k.alg,
                    created: when(k.created_at),
                    activates: when(k.activates_at),
                    retires: k.retires_at.map(when).unwrap_or_else(|| "in use".into()),
                })
                .collect(),
            may_change: ctx.op.can_change(&tenant),
            csrf: ctx.op.csrf.clone(),
            done,
            tenant,
        },
    )
}

/// `GET /admin/tenants/{tenant}/keys`
pub(super) async fn list(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    list_page(&ctx, tenant, None).await
}

/// `POST /admin/tenants/{tenant}/keys`: rotates the key of the chosen algorithm.
pub(super) async fn rotate(ctx: Ctx, Path(tenant): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/keys");
    let Some(alg) = SigningAlg::parse(f.text("alg")) else {
        return ctx.problem(
            StatusCode::BAD_REQUEST,
            "alg: use RS256, ES256 or EdDSA",
            &back,
        );
    };
    if let Err(e) = crate::provisioning::existing_tenant(ctx.state.store.as_ref(), &tenant).await {
        return ctx.provision_error(e, "/admin/tenants");
    }
    let r = match ctx.state.keys.rotate(&tenant, alg, LEAD_SECONDS).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = ?e, tenant = %tenant, "console: key rotation failed");
            return ctx.problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The key could not be rotated; try again.",
                &back,
            );
        }
    };
    ctx.state.keys.forget(&tenant);
    let retiring: Vec<&str> = r.retiring.iter().map(|(k, _)| k.as_str()).collect();
    ctx.record(
        &tenant,
        "admin.created",
        format!("key:{}", r.kid),
        json!({"resource": "signing_key", "kid": r.kid, "alg": r.alg.as_str(), "retiring": retiring}),
    )
    .await;
    let done = format!(
        "New {} key {} published; it signs from {}.",
        r.alg.as_str(),
        r.kid,
        when(r.activates_at)
    );
    list_page(&ctx, tenant, Some(done)).await
}
