//! Front doors: which tenant a request is for, and under which issuer.
//!
//! | form | issuer |
//! |---|---|
//! | `/{tenant}/as/...` | `{public_url}/{tenant}/as` |
//! | root, Host = a tenant's domain | that domain's origin |
//! | root, Host = the public URL's | `{public_url}` (tenant `default`) |
//!
//! A Host that is neither is refused: an unknown Host never becomes an issuer.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::Response;
use keygate_core::model::{Tenant, DEFAULT_TENANT};
use std::net::{IpAddr, SocketAddr};

/// The peer address, or the last `X-Forwarded-For` hop when configured.
fn client_ip(state: &AppState, req: &Request) -> Option<IpAddr> {
    if state.config.trust_forwarded_for {
        // The last hop is the one our proxy appended; anything before it is
        // whatever the client chose to send, so an unreadable last hop falls
        // back to the peer address, never to an earlier entry.
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|s| s.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorKind {
    Path,
    Root,
}

/// The tenant and issuer of the current request.
#[derive(Debug, Clone)]
pub struct Door {
    pub tenant: Tenant,
    pub issuer: String,
    pub kind: DoorKind,
    /// The caller's address, for per-IP limits.
    pub client_ip: Option<IpAddr>,
}

impl Door {
    /// The absolute URL of an endpoint under this door's issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Where JWKS is published: `/jwks` by path, `/.well-known/jwks.json` at the root.
    pub fn jwks_uri(&self) -> String {
        match self.kind {
            DoorKind::Path => self.url("/jwks"),
            DoorKind::Root => self.url("/.well-known/jwks.json"),
        }
    }

    pub fn revocation_endpoint(&self) -> String {
        match self.kind {
            DoorKind::Path => self.url("/revoke"),
            DoorKind::Root => self.url("/oauth/revoke"),
        }
    }
}

async fn tenant(state: &AppState, id: &str) -> Result<Option<Tenant>, ApiError> {
    if let Some(hit) = state.tenants.get(&id.to_string()) {
        return Ok(hit);
    }
    let found = state.store.get_tenant(id).await?;
    state.tenants.put(id.to_string(), found.clone());
    Ok(found)
}

pub async fn by_path(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let id = params.get("tenant").cloned().unwrap_or_default();
    if !keygate_core::validate::is_tenant_id(&id) {
        return Err(ApiError::UnknownTenant);
    }
    let tenant = tenant(&state, &id).await?.ok_or(ApiError::UnknownTenant)?;
    let issuer = format!("{}/{}/as", state.config.public_url, tenant.id);
    let client_ip = client_ip(&state, &req);
    req.extensions_mut().insert(Door {
        tenant,
        issuer,
        kind: DoorKind::Path,
        client_ip,
    });
    Ok(next.run(req).await)
}

pub async fn by_host(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase())
        .or_else(|| {
            req.uri()
                .authority()
                .map(|a| a.as_str().to_ascii_lowercase())
        })
        .ok_or(ApiError::UnknownHost)?;
    let by_domain = match state.hosts.get(&host) {
        Some(hit) => hit,
        None => {
            let found = state.store.tenant_by_authority(&host).await?;
            state.hosts.put(host.clone(), found.clone());
            found
        }
    };
    let client_ip = client_ip(&state, &req);
    let door = match by_domain {
        Some((tenant, origin)) => Door {
            tenant,
            issuer: origin,
            kind: DoorKind::Root,
            client_ip,
        },
        None if host == state.config.public_authority() => {
            let tenant = tenant(&state, DEFAULT_TENANT)
                .await?
                .ok_or(ApiError::UnknownTenant)?;
            Door {
                tenant,
                issuer: state.config.public_url.clone(),
                kind: DoorKind::Root,
                client_ip,
            }
        }
        None => return Err(ApiError::UnknownHost),
    };
    req.extensions_mut().insert(door);
    Ok(next.run(req).await)
}
