//! Front doors: which tenant a request is for, and under which issuer.
//!
//! | form | issuer |
//! |---|---|
//! | `/{tenant}/as/...` | `{public_url}/{tenant}/as` |
//! | root, Host = a tenant's domain | that domain's origin |
//! | root, any other Host | `{public_url}` (tenant `default`) |
//!
//! The issuer never comes from a request's Host (docs/deploying.md, "Proxies,
//! Hosts and TLS"): a Host registered as a tenant's domain selects that tenant,
//! and any other Host (unknown, a node's own address, one a proxy rewrote)
//! is served as the public URL. A tenant's domain serves only that tenant:
//! the path door of another tenant answers 404 there.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::Response;
use keygate_core::model::{Tenant, DEFAULT_TENANT};
use std::net::{IpAddr, SocketAddr};

/// The peer address, or the last `X-Forwarded-For` hop when configured.
pub(crate) fn client_ip(state: &AppState, req: &Request) -> Option<IpAddr> {
    client_ip_of(state, req.headers(), req.extensions())
}

/// [`client_ip`] from a request's parts (the console's extractors).
pub(crate) fn client_ip_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<IpAddr> {
    if state.config.trust_forwarded_for {
        // The last hop is the one our proxy appended; anything before it is
        // whatever the client chose to send, so an unreadable last hop falls
        // back to the peer address, never to an earlier entry.
        let forwarded = headers
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
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Which front door a request came through; it decides the endpoints' paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorKind {
    /// `{public URL}/{tenant}/as/...`: the tenant named in the path.
    Path,
    /// The root of a tenant's own domain, or of the public URL for the default tenant.
    Root,
}

/// The tenant and issuer of the current request.
#[derive(Debug, Clone)]
pub struct Door {
    /// The tenant the request is for.
    pub tenant: Tenant,
    /// The issuer (`iss`) this door answers as; endpoint URLs are built under it.
    pub issuer: String,
    /// Through which door the request came, which decides the endpoints' paths.
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

    /// Where tokens are revoked (RFC 7009 2): `/revoke` by path, `/oauth/revoke` at the root.
    pub fn revocation_endpoint(&self) -> String {
        match self.kind {
            DoorKind::Path => self.url("/revoke"),
            DoorKind::Root => self.url("/oauth/revoke"),
        }
    }
}

/// The longest Host looked up: a DNS name is at most 253 characters
/// (RFC 1035 2.3.4), plus a port. Anything longer is served as an unknown
/// Host without touching the store or the cache.
pub const MAX_HOST_LEN: usize = 255;

/// The Host of a request, lower-cased, if it could be a registered
/// domain's authority (`host[:port]`, RFC 9110 7.2): at most
/// [`MAX_HOST_LEN`] bytes of letters, digits, `.`, `-`, `_`, `:` and the
/// brackets of an IPv6 literal. Anything else is `None`: treated as an
/// unknown Host, never looked up, never cached.
pub fn lookup_host(raw: Option<&str>) -> Option<String> {
    let host = raw?.trim();
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return None;
    }
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
        .then(|| host.to_ascii_lowercase())
}

fn request_host(req: &Request) -> Option<String> {
    match req.headers().get(HOST) {
        Some(h) => lookup_host(h.to_str().ok()),
        None => lookup_host(req.uri().authority().map(|a| a.as_str())),
    }
}

/// The tenant whose registered domain the request's Host is, and that
/// domain's origin; `None` for any other Host.
async fn domain_of(
    state: &AppState,
    host: Option<String>,
) -> Result<Option<(Tenant, String)>, ApiError> {
    let Some(host) = host else {
        return Ok(None);
    };
    if let Some(hit) = state.hosts.get(&host) {
        return Ok(hit);
    }
    let found = state.store.tenant_by_authority(&host).await?;
    state.hosts.put(host, found.clone());
    Ok(found)
}

pub(crate) async fn tenant(state: &AppState, id: &str) -> Result<Option<Tenant>, ApiError> {
    if let Some(hit) = state.tenants.get(&id.to_string()) {
        return Ok(hit);
    }
    let found = state.store.get_tenant(id).await?;
    state.tenants.put(id.to_string(), found.clone());
    Ok(found)
}

/// Middleware of the path door: finds the tenant named by `{tenant}`
/// (refused on another tenant's own domain) and puts its [`Door`] in the
/// request.
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
    // On a tenant's own domain only that tenant is served.
    if let Some((owner, _)) = domain_of(&state, request_host(&req)).await? {
        if owner.id != id {
            return Err(ApiError::UnknownTenant);
        }
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

/// Middleware of the root door: the tenant whose domain the Host is, else
/// the default tenant at the public URL, put in the request as its [`Door`].
pub async fn by_host(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let client_ip = client_ip(&state, &req);
    let door = match domain_of(&state, request_host(&req)).await? {
        Some((tenant, origin)) => Door {
            tenant,
            issuer: origin,
            kind: DoorKind::Root,
            client_ip,
        },
        None => {
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
    };
    req.extensions_mut().insert(door);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_are_looked_up() {
        assert_eq!(
            lookup_host(Some(" Login.Acme.TEST:8443 ")).as_deref(),
            Some("login.acme.test:8443")
        );
        assert_eq!(
            lookup_host(Some("[::1]:8080")).as_deref(),
            Some("[::1]:8080")
        );
        let longest = format!("{}.test", "a".repeat(MAX_HOST_LEN - 5));
        assert_eq!(lookup_host(Some(&longest)), Some(longest.clone()));
        let too_long = format!("a{longest}");
        for bad in [
            None,
            Some(""),
            Some("   "),
            Some(too_long.as_str()),
            Some("evil.test/path"),
            Some("user@evil.test"),
            Some("evil test"),
            Some("évil.test"),
            Some("evil.test%00"),
        ] {
            assert_eq!(lookup_host(bad), None, "{bad:?}");
        }
    }
}
