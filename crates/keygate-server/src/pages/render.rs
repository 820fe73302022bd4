//! Rendering of the hosted pages, with the security headers every page carries.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

pub(crate) const CSS: &str = include_str!("../../templates/style.css");

/// The one script of the hosted pages: the passkey ceremonies, inline on
/// the pages that offer passkeys and allowed there by its hash
/// ([`with_script`]).
pub(crate) const SCRIPT: &str = include_str!("../../templates/passkeys.js");

/// The Content-Security-Policy: nothing but our one inline stylesheet (by
/// hash), no scripts (a page offering passkeys allows its one script:
/// [`with_script`]), no framing, forms only to ourselves (`form-action
/// 'self'`). A page whose form is answered by a redirect off-site adds that
/// target's origin ([`html_posting_to`]): browsers (Chromium) enforce
/// `form-action` on the redirects that follow a submission too. The page
/// of the `form_post` response mode (OAuth 2.0 Form Post Response Mode),
/// which posts to the client's redirect URI, has a policy of its own
/// ([`super::form_post`]): its script by hash, `form-action` that URI's
/// origin alone.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; style-src 'sha256-{}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            keygate_crypto::secrets::sha256_base64(CSS)
        )
    })
}

/// A page that carries [`SCRIPT`]: its CSP allows that script (by hash,
/// nothing else) and its requests to the issuer's own origin (the
/// ceremony endpoints). Pages without it keep `default-src 'none'` for
/// scripts and requests.
pub(crate) fn with_script(mut res: Response) -> Response {
    static SOURCES: OnceLock<String> = OnceLock::new();
    let sources = SOURCES.get_or_init(|| {
        format!(
            "default-src 'none'; script-src 'sha256-{}'; connect-src 'self';",
            keygate_crypto::secrets::sha256_base64(SCRIPT)
        )
    });
    let csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replacen("default-src 'none';", sources, 1));
    if let Some(v) = csp.and_then(|v| HeaderValue::from_str(&v).ok()) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// The CSP source expression that matches `uri` as a form target: its
/// origin (`https://app.example.com`, `http://127.0.0.1:3000`), or its
/// scheme for a native app's private-use scheme (`com.example.app:`).
/// `None` for anything that would not be one clean source expression.
pub(crate) fn form_target_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let source = match url.scheme() {
        "http" | "https" => url.origin().ascii_serialization(),
        scheme => format!("{scheme}:"),
    };
    let clean = source.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b':' | b'/' | b'[' | b']')
    });
    (clean && source != "null").then_some(source)
}

/// The CSP of a page whose form may end in a redirect to `target`.
fn csp_posting_to(target: Option<&str>) -> String {
    match target.and_then(form_target_source) {
        Some(source) => csp().replacen(
            "form-action 'self'",
            &format!("form-action 'self' {source}"),
            1,
        ),
        None => csp().to_string(),
    }
}

pub(crate) fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    html_posting_to(status, body, cookies, None)
}

/// A page whose form's answer may redirect to `target` (the client's
/// redirect URI after sign-in, its post-logout URI after sign-out).
pub(crate) fn html_posting_to(
    status: StatusCode,
    body: String,
    cookies: &[String],
    target: Option<&str>,
) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp_posting_to(target)) {
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
pub(crate) struct LoginPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    /// The registration page's link; `None` where there is none (the
    /// tenant's registration is closed, or the account page's sign-in).
    pub register_link: Option<&'a str>,
    /// The "forgot your password?" page, carrying the authorization request.
    pub forgot_link: &'a str,
    pub error: Option<&'a str>,
    /// "Sign in with a passkey": its ceremony endpoints; `None` where
    /// passkeys cannot work (an issuer on an IP address).
    pub passkey: Option<PasskeyBox<'a>>,
    pub script: &'a str,
    /// "Continue with NAME", one per upstream identity provider.
    pub upstreams: &'a [UpstreamLink],
}

/// A sign-in page's link to an upstream identity provider.
pub(crate) struct UpstreamLink {
    pub name: String,
    pub href: String,
}

/// The page that links an upstream identity to the local account with
/// its e-mail, once that account's password is given.
#[derive(Template)]
#[template(path = "federation_link.html")]
pub(crate) struct FederationLinkPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub idp_name: &'a str,
    pub email: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub error: Option<&'a str>,
}

/// Where a page's passkey button (the script's `#kg-passkey`) starts and
/// finishes its ceremony.
pub(crate) struct PasskeyBox<'a> {
    pub start: &'a str,
    pub finish: &'a str,
}

/// The second step of a sign-in: a code from an authenticator app, or a
/// passkey.
#[derive(Template)]
#[template(path = "mfa.html")]
pub(crate) struct MfaPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    /// The token of the sign-in waiting for this step.
    pub mfa_token: &'a str,
    pub error: Option<&'a str>,
    /// Whether the person has an authenticator app (the code form).
    pub code: bool,
    /// "Use a passkey", when the person has one.
    pub passkey: Option<PasskeyBox<'a>>,
    pub script: &'a str,
}

#[derive(Template)]
#[template(path = "register.html")]
pub(crate) struct RegisterPage<'a> {
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

pub(crate) struct ConfirmForm {
    pub action: String,
    pub csrf: String,
    pub button: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub heading: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub confirm: Option<ConfirmForm>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub(crate) struct ForgotPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub action: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub can_send: bool,
    pub login_link: Option<&'a str>,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub(crate) struct ResetPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub action: &'a str,
    pub token: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub min_len: usize,
    pub error: Option<&'a str>,
}

/// The page an e-mail verification link opens: one button that uses it.
#[derive(Template)]
#[template(path = "verify.html")]
pub(crate) struct VerifyPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub action: &'a str,
    pub token: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

/// "Check your e-mail": a sign-in that waits for the address to be
/// verified, with a form to send the message again.
#[derive(Template)]
#[template(path = "verify_pending.html")]
pub(crate) struct VerifyPendingPage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub action: &'a str,
    pub request: &'a str,
    pub csrf: &'a str,
    pub email: &'a str,
    pub can_send: bool,
    pub resent: bool,
    pub login_link: Option<&'a str>,
}

/// A page that says one thing and may offer one link onwards.
#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticePage<'a> {
    pub css: &'a str,
    pub tenant_name: &'a str,
    pub heading: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub link_href: Option<&'a str>,
    pub link_text: &'a str,
}

pub(crate) fn render<T: Template>(t: &T) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template failed");
        "<!doctype html><title>Error</title><p>The page could not be shown.</p>".to_string()
    })
}

pub(crate) fn error_page(tenant_name: &str, message: &str) -> Response {
    message_page(
        StatusCode::BAD_REQUEST,
        tenant_name,
        "Something went wrong",
        message,
    )
}

/// A page with only a heading and an error message.
pub(crate) fn message_page(
    status: StatusCode,
    tenant_name: &str,
    heading: &str,
    message: &str,
) -> Response {
    let body = render(&MessagePage {
        css: CSS,
        tenant_name,
        heading,
        message,
        is_error: true,
        confirm: None,
    });
    html(status, body, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_with_the_script_allows_it_by_hash_and_nothing_else() {
        let res = with_script(html(StatusCode::OK, String::new(), &[]));
        let policy = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            policy.starts_with("default-src 'none'; script-src 'sha256-"),
            "{policy}"
        );
        assert!(
            policy.contains("; connect-src 'self'; style-src"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(!SCRIPT.contains("</script"));
        assert!(!csp().contains("script-src"));
    }

    #[test]
    fn form_targets() {
        assert_eq!(
            form_target_source("https://App.example.com/cb?x=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            form_target_source("http://127.0.0.1:3000/callback").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            form_target_source("http://[::1]:9/cb").as_deref(),
            Some("http://[::1]:9")
        );
        assert_eq!(
            form_target_source("com.example.app:/oauth").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(form_target_source("https://a;b.example/cb"), None);
        assert_eq!(form_target_source("not a url"), None);
        assert!(csp().contains("form-action 'self';"));
        let posting = csp_posting_to(Some("https://app.example.com/cb"));
        assert!(
            posting.contains("form-action 'self' https://app.example.com;"),
            "{posting}"
        );
        assert_eq!(csp_posting_to(None), csp());
    }
}
