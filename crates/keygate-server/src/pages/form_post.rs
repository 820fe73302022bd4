//! The `form_post` response mode (OAuth 2.0 Form Post Response Mode 2):
//! the authorization response (code, or error, with `state` and `iss`) as
//! an HTML page whose form POSTs the parameters to the redirect URI, so
//! the code never appears in a URL (browser history, logs, `Referer`).
//!
//! The form is submitted by one line of script, allowed on this page only
//! by its hash ([`SCRIPT`]); where scripts do not run, a `<noscript>`
//! button submits it. This page's `form-action` is the redirect URI's
//! origin alone: the one place it may post to.

use super::render::{self, CSS};
use crate::door::Door;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use std::sync::OnceLock;

/// The page's one script: submits its form.
pub(crate) const SCRIPT: &str = include_str!("../../templates/form_post.js");

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    action: &'a str,
    fields: &'a [(String, String)],
    script: &'a str,
}

/// The form a response posts: the redirect URI and the parameters. It
/// rides in the page's response extensions too, so that an answer given
/// as JSON (the passkey ceremonies' finish) can hand it to its script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormPost {
    /// The redirect URI, exactly as registered (its query kept).
    pub action: String,
    /// The response's parameters, in order.
    pub fields: Vec<(String, String)>,
}

impl FormPost {
    /// The response `params` for `redirect_uri`.
    pub(crate) fn new(redirect_uri: &str, params: &[(&str, &str)]) -> FormPost {
        FormPost {
            action: redirect_uri.to_string(),
            fields: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// The Content-Security-Policy of the page: its script and stylesheet by
/// hash, forms only to `target`'s origin, nothing else.
fn csp(target: &str) -> String {
    static SCRIPT_HASH: OnceLock<String> = OnceLock::new();
    static CSS_HASH: OnceLock<String> = OnceLock::new();
    let script = SCRIPT_HASH.get_or_init(|| keygate_crypto::secrets::sha256_base64(SCRIPT));
    let css = CSS_HASH.get_or_init(|| keygate_crypto::secrets::sha256_base64(CSS));
    // Redirect URIs used with form_post are http or https (checked with
    // the request), whose origins are clean sources; anything else posts
    // nowhere.
    let action = render::form_target_source(target).unwrap_or_else(|| "'none'".into());
    format!(
        "default-src 'none'; script-src 'sha256-{script}'; style-src 'sha256-{css}'; \
         form-action {action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The page that posts `form`, with `cookies` set.
pub(crate) fn page(door: &Door, form: FormPost, cookies: &[String]) -> Response {
    let body = render::render(&FormPostPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        action: &form.action,
        fields: &form.fields,
        script: SCRIPT,
    });
    let mut res = render::html(StatusCode::OK, body, cookies);
    if let Ok(v) = HeaderValue::from_str(&csp(&form.action)) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res.extensions_mut().insert(form);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_script_by_hash_and_posts_only_to_the_target() {
        let policy = csp("https://app.example.com/cb?x=1");
        assert!(
            policy.starts_with("default-src 'none'; script-src 'sha256-"),
            "{policy}"
        );
        assert!(
            policy.contains("; form-action https://app.example.com;"),
            "{policy}"
        );
        assert!(!policy.contains("'self'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(!SCRIPT.contains("</script"));
        assert!(csp("not a uri").contains("form-action 'none';"));
    }
}
