//! Rendering of the hosted pages, with the security headers every page carries.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

pub const CSS: &str = include_str!("../../templates/style.css");

/// The Content-Security-Policy: nothing but our one inline stylesheet (by
/// hash), no scripts, no framing, forms only to ourselves or the redirect
/// that follows them.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; style-src 'sha256-{}'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            keygate_crypto::secrets::sha256_base64(CSS)
        )
    })
}

pub fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub register_link: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub login_link: &'a str,
    pub error: Option<&'a str>,
}

pub struct ConfirmForm {
    pub action: String,
    pub csrf: String,
    pub button: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub heading: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub confirm: Option<ConfirmForm>,
}

pub fn render<T: Template>(t: &T) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template failed");
        "<!doctype html><title>Error</title><p>The page could not be shown.</p>".to_string()
    })
}

pub fn error_page(tenant_name: &str, message: &str) -> Response {
    let body = render(&MessagePage {
        css: CSS,
        tenant_name,
        heading: "Something went wrong",
        message,
        is_error: true,
        confirm: None,
    });
    html(StatusCode::BAD_REQUEST, body, &[])
}
