//! The admin REST API under `/admin/v1`: tenants, clients, users and APIs
//! (create, read, list with paging, update, delete), client secret rotation,
//! users' second factors (list, remove one, reset all), upstream identity
//! providers, and its OpenAPI
//! document at `/admin/v1/openapi.json`.
//!
//! Every request, including unknown paths and the OpenAPI document, needs an
//! admin bearer token: the one configured at start (`KEYGATE_ADMIN_TOKEN`,
//! kept only as its SHA-256 and compared in constant time) or one created
//! with `keygate admin-token create` (only its SHA-256 is stored; it is
//! looked up by that hash). With neither, every request is refused: the API
//! is never open.
//!
//! Writes go through [`crate::provisioning`], the code the provisioning commands use
//! too. After a write this node drops the cached tenant, host or client, so
//! it sees the change at once; other nodes see it within the cache TTL.
//!
//! Every write that succeeds is recorded as an audit event by the token
//! that made it ([`audit`]); `GET /admin/v1/events` lists the events
//! ([`events`], docs/events.md).

mod apis;
pub mod audit;
mod clients;
mod consents;
pub mod error;
pub mod events;
mod factors;
mod idps;
mod openapi;
mod tenants;
mod users;
pub mod views;
mod webhooks;

use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use error::AdminError;
use keygate_core::model::Tenant;
use keygate_crypto::secrets;

pub use openapi::document;

/// The admin API, to be nested at `/admin/v1`.
pub fn router<S: Clone + Send + Sync + 'static>(state: AppState) -> Router<S> {
    Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/events", get(events::list))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/tenants/{tenant}",
            get(tenants::read)
                .patch(tenants::update)
                .delete(tenants::delete),
        )
        .route(
            "/tenants/{tenant}/clients",
            get(clients::list).post(clients::create),
        )
        .route(
            "/tenants/{tenant}/clients/{client_id}",
            get(clients::read)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route(
            "/tenants/{tenant}/clients/{client_id}/secret",
            post(clients::rotate_secret),
        )
        .route(
            "/tenants/{tenant}/clients/{client_id}/grants",
            get(apis::grants).put(apis::grant),
        )
        .route(
            "/tenants/{tenant}/clients/{client_id}/grants/{identifier}",
            axum::routing::delete(apis::revoke),
        )
        .route(
            "/tenants/{tenant}/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/tenants/{tenant}/webhooks/{id}",
            get(webhooks::read).delete(webhooks::delete),
        )
        .route(
            "/tenants/{tenant}/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/tenants/{tenant}/idps", get(idps::list).post(idps::create))
        .route(
            "/tenants/{tenant}/idps/{id}",
            get(idps::read).patch(idps::update).delete(idps::delete),
        )
        .route("/tenants/{tenant}/apis", get(apis::list).post(apis::create))
        .route(
            "/tenants/{tenant}/apis/{identifier}",
            get(apis::read).patch(apis::update).delete(apis::delete),
        )
        .route(
            "/tenants/{tenant}/users/{sub}/consents",
            get(consents::list),
        )
        .route(
            "/tenants/{tenant}/users/{sub}/consents/{client_id}",
            axum::routing::delete(consents::revoke),
        )
        .route(
            "/tenants/{tenant}/users",
            get(users::list).post(users::create),
        )
        .route(
            "/tenants/{tenant}/users/{sub}",
            get(users::read).patch(users::update).delete(users::delete),
        )
        .route(
            "/tenants/{tenant}/users/{sub}/factors",
            get(factors::list).delete(factors::reset),
        )
        .route(
            "/tenants/{tenant}/users/{sub}/factors/{id}",
            delete(factors::delete),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_admin,
        ))
        .with_state(state)
}

async fn not_found() -> AdminError {
    AdminError::NotFound("no such admin endpoint".into())
}

async fn method_not_allowed() -> AdminError {
    AdminError::MethodNotAllowed
}

/// Longest bearer token considered (both kinds are 43 to a few hundred
/// characters); longer ones are refused without hashing.
const MAX_TOKEN_LEN: usize = 1024;

/// Who the request's admin token says it is ([`audit::AdminActor`]), or why not.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, AdminError> {
    let Some(token) = crate::jwt::mint::bearer(headers) else {
        return Err(AdminError::Unauthorized { sent: false });
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(AdminError::Unauthorized { sent: true });
    }
    let hash = secrets::sha256_hex(&token);
    if let Some(configured) = &state.config.admin_token_hash {
        if secrets::ct_eq(configured.as_bytes(), hash.as_bytes()) {
            return Ok("admin-token:static".to_string());
        }
    }
    // Stored tokens are found by their hash: timing can tell at most how
    // much of a SHA-256 matched, which reveals nothing about a token.
    if let Some(id) = state.store.admin_token_id(&hash).await? {
        return Ok(format!("admin-token:{id}"));
    }
    tracing::info!("admin API: refused a bearer token");
    Err(AdminError::Unauthorized { sent: true })
}

/// Largest body whose field names are read for the audit event (the
/// handlers' own limit); a larger one is passed on unread.
const AUDITED_BODY: usize = 64 * 1024;

async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = match authenticate(&state, req.headers()).await {
        Ok(actor) => run_audited(&state, actor, req, next).await,
        Err(e) => e.into_response(),
    };
    // Answers carry secrets and personal data.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Runs an authenticated request, the actor in its extensions; a write
/// that succeeds is recorded as an audit event ([`audit`]).
async fn run_audited(state: &AppState, actor: String, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let ip = crate::door::client_ip(state, &req);
    req.extensions_mut()
        .insert(audit::AdminActor(actor.clone()));
    let write = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    // The body's field names (never its values) say what a write changed.
    let mut fields = Vec::new();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if write && declared.is_some_and(|n| n > 0 && n <= AUDITED_BODY) {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, AUDITED_BODY).await {
            Ok(b) => b,
            Err(_) => {
                let e = AdminError::BadRequest("the request body could not be read".into());
                return e.into_response();
            }
        };
        fields = audit::field_names(&bytes);
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    let res = next.run(req).await;
    if write && res.status().is_success() {
        let location = audit::location(res.headers());
        if let Some(change) = audit::describe(&method, &path, res.status(), location.as_deref()) {
            audit::record(state, &actor, ip, change, fields).await;
        }
    }
    res
}

/// A JSON body, or a 400 in the API's error shape.
fn body<T>(r: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    r.map(|Json(v)| v)
        .map_err(|e| AdminError::BadRequest(e.body_text()))
}

/// Query parameters, or a 400 in the API's error shape.
fn query<T>(r: Result<Query<T>, QueryRejection>) -> Result<T, AdminError> {
    r.map(|Query(v)| v)
        .map_err(|e| AdminError::BadRequest(e.body_text()))
}

/// The page size asked for, checked.
fn limit(raw: Option<i64>) -> Result<i64, AdminError> {
    match raw {
        None => Ok(views::DEFAULT_PAGE),
        Some(n) if (1..=views::MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(AdminError::BadRequest(format!(
            "limit: must be 1 to {}",
            views::MAX_PAGE
        ))),
    }
}

/// Drops what this node caches about a tenant (its record and the Host
/// entries of its domains), so the next request reads the store.
fn forget_tenant(state: &AppState, tenant: &Tenant) {
    state.tenants.remove(&tenant.id);
    for origin in &tenant.domains {
        if let Some(authority) = keygate_core::redirect::origin_authority(origin) {
            state.hosts.remove(&authority);
        }
    }
}

fn forget_client(state: &AppState, tenant: &str, client_id: &str) {
    state
        .clients
        .remove(&(tenant.to_string(), client_id.to_string()));
}
