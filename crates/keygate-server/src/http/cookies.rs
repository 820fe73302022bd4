//! Cookies of the hosted pages: the session and the CSRF token.
//!
//! Both are HttpOnly and SameSite=Lax; over https they are `Secure` and
//! carry the `__Host-` prefix (so no subdomain can set or shadow them).

use axum::http::HeaderMap;

pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn prefix(https: bool) -> &'static str {
    if https {
        "__Host-"
    } else {
        ""
    }
}

/// The session cookie's name; one per tenant, as tenants share an origin.
pub(crate) fn session_name(https: bool, tenant: &str) -> String {
    format!("{}kg_session_{}", prefix(https), tenant)
}

/// The cookie that binds a round trip to an upstream to the browser that
/// started it (docs/federation.md).
pub(crate) fn federation_name(https: bool) -> String {
    format!("{}kg_federation", prefix(https))
}

pub(crate) fn csrf_name(https: bool) -> String {
    format!("{}kg_csrf", prefix(https))
}

pub(crate) fn set(https: bool, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if https {
        c.push_str("; Secure");
    }
    c
}

pub(crate) fn clear(https: bool, name: &str) -> String {
    set(https, name, "", Some(0))
}
