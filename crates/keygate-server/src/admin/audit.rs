//! The audit events of admin API writes (docs/events.md): one place, the
//! auth middleware, records `admin.created|updated|deleted` for every write
//! that succeeded, from its method, path and the names of the body's
//! fields (never their values), with the token that made it.

use crate::events::Record;
use crate::AppState;
use axum::http::{header, HeaderMap, Method, StatusCode};
use percent_encoding::percent_decode_str;
use std::net::IpAddr;

/// Who made an admin API request: `admin-token:static` (the configured
/// `KEYGATE_ADMIN_TOKEN`) or `admin-token:ID` (a stored one). The auth
/// middleware puts it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminActor(pub String);

/// An admin change, as recorded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Change {
    /// `admin.created`, `admin.updated` or `admin.deleted`.
    pub kind: &'static str,
    /// The tenant it is in; "" for tenants themselves.
    pub tenant: String,
    /// `tenant`, `client`, `user`, `api`, `idp`, `webhook`, `grant`,
    /// `consent`, `factor` or `factors`.
    pub resource: &'static str,
    /// The changed record's id (for a grant or a consent, the client's).
    pub id: String,
    /// `tenant:ID`, `client:ID`, `user:SUB`, `api:ID` or `idp:ID`.
    pub subject: String,
    /// More to say (the rotated secret, the grant's API...).
    pub extra: Vec<(&'static str, String)>,
}

/// The path's segments, percent-decoded.
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The change a successful write made, from its method, its path (under
/// `/admin/v1`), its status and, for a creation, the `Location` it
/// answered with. `None` for anything that is not a write.
pub(crate) fn describe(
    method: &Method,
    path: &str,
    status: StatusCode,
    location: Option<&str>,
) -> Option<Change> {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let created_id = || location.and_then(|l| segments(l).pop());
    let kind = match *method {
        Method::DELETE => "admin.deleted",
        Method::PATCH => "admin.updated",
        Method::POST | Method::PUT if status == StatusCode::CREATED => "admin.created",
        Method::POST | Method::PUT => "admin.updated",
        _ => return None,
    };
    let change = |tenant: &str, resource, id: String, subject: String| Change {
        kind,
        tenant: tenant.to_string(),
        resource,
        id,
        subject,
        extra: Vec::new(),
    };
    let c = match segs.as_slice() {
        ["tenants"] => {
            let id = created_id()?;
            change("", "tenant", id.clone(), format!("tenant:{id}"))
        }
        ["tenants", t] => change("", "tenant", t.to_string(), format!("tenant:{t}")),
        ["tenants", t, "clients"] => {
            let id = created_id()?;
            change(t, "client", id.clone(), format!("client:{id}"))
        }
        ["tenants", t, "clients", c] => change(t, "client", c.to_string(), format!("client:{c}")),
        ["tenants", t, "clients", c, "secret"] => {
            let mut ch = change(t, "client", c.to_string(), format!("client:{c}"));
            ch.extra.push(("secret", "rotated".into()));
            ch
        }
        ["tenants", t, "clients", c, "grants"] => {
            change(t, "grant", c.to_string(), format!("client:{c}"))
        }
        ["tenants", t, "clients", c, "grants", api] => {
            let mut ch = change(t, "grant", c.to_string(), format!("client:{c}"));
            ch.extra.push(("api", api.to_string()));
            ch
        }
        ["tenants", t, "idps"] => {
            let id = created_id()?;
            change(t, "idp", id.clone(), format!("idp:{id}"))
        }
        ["tenants", t, "idps", i] => change(t, "idp", i.to_string(), format!("idp:{i}")),
        ["tenants", t, "webhooks"] => {
            let id = created_id()?;
            change(t, "webhook", id.clone(), format!("webhook:{id}"))
        }
        ["tenants", t, "webhooks", w] => {
            change(t, "webhook", w.to_string(), format!("webhook:{w}"))
        }
        ["tenants", t, "apis"] => {
            let id = created_id()?;
            change(t, "api", id.clone(), format!("api:{id}"))
        }
        ["tenants", t, "apis", a] => change(t, "api", a.to_string(), format!("api:{a}")),
        ["tenants", t, "users"] => {
            let id = created_id()?;
            change(t, "user", id.clone(), format!("user:{id}"))
        }
        ["tenants", t, "users", u] => change(t, "user", u.to_string(), format!("user:{u}")),
        ["tenants", t, "users", u, "consents", c] => {
            change(t, "consent", c.to_string(), format!("user:{u}"))
        }
        ["tenants", t, "users", u, "factors"] => {
            change(t, "factors", u.to_string(), format!("user:{u}"))
        }
        ["tenants", t, "users", u, "factors", f] => {
            change(t, "factor", f.to_string(), format!("user:{u}"))
        }
        _ => return None,
    };
    Some(c)
}

/// The names of the top-level fields of a JSON object body (sorted), or
/// none when it is not one. Only names: values can be secrets.
pub(crate) fn field_names(body: &[u8]) -> Vec<String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => {
            let mut names: Vec<String> = m.keys().cloned().collect();
            names.sort();
            names
        }
        _ => Vec::new(),
    }
}

/// Records the events of a successful admin write: `admin.*`, and for the
/// writes that happen to a person (a consent revoked, factors removed)
/// the `user.*` event too.
pub(crate) async fn record(
    state: &AppState,
    actor: &str,
    ip: Option<IpAddr>,
    change: Change,
    fields: Vec<String>,
) {
    let mut detail = serde_json::json!({
        "resource": change.resource,
        "id": change.id,
        "fields": fields,
    });
    for (k, v) in &change.extra {
        detail[*k] = serde_json::Value::String(v.clone());
    }
    let person = match (change.resource, change.kind) {
        ("consent", "admin.deleted") => Some((
            "user.consent_revoked",
            serde_json::json!({"client_id": change.id}),
        )),
        ("factors", "admin.deleted") => {
            Some(("user.factor_removed", serde_json::json!({"all": true})))
        }
        ("factor", "admin.deleted") => {
            Some(("user.factor_removed", serde_json::json!({"id": change.id})))
        }
        _ => None,
    };
    if let Some((kind, d)) = person {
        Record::new(&change.tenant, kind, actor)
            .ip(ip)
            .subject(change.subject.clone())
            .detail(d)
            .save(state)
            .await;
    }
    Record::new(&change.tenant, change.kind, actor)
        .ip(ip)
        .subject(change.subject)
        .detail(detail)
        .save(state)
        .await;
}

/// The `Location` of an answer, if any.
pub(crate) fn location(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_described_and_reads_are_not() {
        let c = describe(
            &Method::POST,
            "/tenants/acme/clients",
            StatusCode::CREATED,
            Some("/admin/v1/tenants/acme/clients/abc"),
        )
        .unwrap();
        assert_eq!(
            (c.kind, c.tenant.as_str(), c.resource, c.id.as_str()),
            ("admin.created", "acme", "client", "abc")
        );
        assert_eq!(c.subject, "client:abc");
        let c = describe(
            &Method::POST,
            "/tenants/acme/clients/abc/secret",
            StatusCode::OK,
            None,
        )
        .unwrap();
        assert_eq!(c.kind, "admin.updated");
        assert_eq!(c.extra, vec![("secret", "rotated".to_string())]);
        let c = describe(
            &Method::DELETE,
            "/tenants/acme/apis/https%3A%2F%2Fapi.example",
            StatusCode::NO_CONTENT,
            None,
        )
        .unwrap();
        assert_eq!(c.subject, "api:https://api.example");
        let c = describe(
            &Method::POST,
            "/tenants/acme/webhooks",
            StatusCode::CREATED,
            Some("/admin/v1/tenants/acme/webhooks/w1"),
        )
        .unwrap();
        assert_eq!((c.resource, c.subject.as_str()), ("webhook", "webhook:w1"));
        let c = describe(
            &Method::DELETE,
            "/tenants/acme/webhooks/w1",
            StatusCode::NO_CONTENT,
            None,
        )
        .unwrap();
        assert_eq!(
            (c.kind, c.subject.as_str()),
            ("admin.deleted", "webhook:w1")
        );
        let c = describe(&Method::PATCH, "/tenants/acme", StatusCode::OK, None).unwrap();
        assert_eq!((c.tenant.as_str(), c.subject.as_str()), ("", "tenant:acme"));
        assert!(describe(&Method::GET, "/tenants/acme", StatusCode::OK, None).is_none());
        assert!(describe(&Method::POST, "/nowhere", StatusCode::OK, None).is_none());
    }

    #[test]
    fn only_field_names_are_kept() {
        assert_eq!(
            field_names(br#"{"password":"hunter2","email":"a@b.c"}"#),
            vec!["email", "password"]
        );
        assert!(field_names(b"[1]").is_empty());
        assert!(field_names(b"not json").is_empty());
    }
}
