//! The demo client's callback page of `keygate serve --dev`: routed only
//! when [`crate::ServerConfig::dev_callback`] is set, never otherwise.
//!
//! It stands in for the application a newcomer has not written yet. The
//! browser lands on it with the authorization response (RFC 6749 4.1.2);
//! it exchanges the code at the token endpoint as a confidential client
//! would (RFC 6749 4.1.3: HTTP Basic client authentication, the
//! `redirect_uri`, and the PKCE `code_verifier` of RFC 7636 4.5), and shows
//! the response, the decoded id_token and access token, and curl commands
//! for the `refresh_token` grant (RFC 6749 6) and for userinfo (OpenID
//! Connect Core 5.3).
//!
//! The request to the token endpoint is an HTTP request through this
//! server's own router, in process: it passes through the same front door,
//! client authentication and limits as any client's, and does not depend on
//! the public URL being reachable from the server itself.
//!
//! PKCE without a session: the printed authorize URL carries a random
//! `state`, and the verifier is derived from it with a key only the server
//! holds ([`DevCallback::verifier`]), so the page recovers it from the
//! `state` it is sent back. This is a demo: the page redeems any code of
//! the demo client that reaches it and shows the tokens to whoever opened
//! it, which is why it exists only in dev mode. The client secret appears
//! in its commands only after a successful exchange, that is to a person
//! who just signed in (the terminal of `serve --dev` prints it anyway); a
//! request without a good code learns nothing but the token endpoint's
//! error.

use crate::pages::render::{self, CSS};
use crate::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Where the page is served, under the public URL.
pub const DEV_CALLBACK_PATH: &str = "/dev/callback";

/// The demo client the page acts as.
#[derive(Clone)]
pub struct DevCallback {
    /// The demo client's `client_id`.
    pub client_id: String,
    /// The demo client's secret, for HTTP Basic authentication at the token
    /// endpoint (RFC 6749 2.3.1).
    pub client_secret: String,
    /// The key PKCE verifiers are derived with (see [`DevCallback::verifier`]).
    pub verifier_key: String,
}

impl std::fmt::Debug for DevCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCallback")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl DevCallback {
    /// The page's URL, the redirect URI registered for the demo client.
    pub fn redirect_uri(public_url: &str) -> String {
        format!("{}{DEV_CALLBACK_PATH}", public_url.trim_end_matches('/'))
    }

    /// The PKCE code verifier of an authorization request with this
    /// `state`: base64url of SHA-256 over the key and the state, 43
    /// characters of the verifier alphabet (RFC 7636 4.1).
    pub fn verifier(&self, state: &str) -> String {
        keygate_core::pkce::s256_challenge(&format!("{}:{state}", self.verifier_key))
    }

    /// Its S256 challenge (RFC 7636 4.2).
    pub fn challenge(&self, state: &str) -> String {
        keygate_core::pkce::s256_challenge(&self.verifier(state))
    }
}

/// A JWT's header and payload as pretty JSON (not verified: the page got
/// the token straight from the token endpoint).
struct Decoded {
    name: &'static str,
    header: String,
    payload: String,
}

fn decode(name: &'static str, jwt: &str) -> Decoded {
    use base64::Engine;
    let part = |i: usize| {
        jwt.split('.')
            .nth(i)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| "(not a JWT)".into())
    };
    Decoded {
        name,
        header: part(0),
        payload: part(1),
    }
}

/// A command to paste into a POSIX shell.
struct Command {
    id: &'static str,
    title: &'static str,
    text: String,
}

/// `s` in single quotes for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[derive(Template)]
#[template(path = "dev_callback.html")]
struct CallbackPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    code: &'a str,
    state: &'a str,
    /// A problem to show first (an error response, a failed exchange).
    error: Option<String>,
    /// The token endpoint's status and response, pretty.
    status: u16,
    response: String,
    tokens: Vec<Decoded>,
    commands: Vec<Command>,
}

/// The page at [`DEV_CALLBACK_PATH`]: exchanges the code it is sent back for
/// tokens and shows them, with curl commands to go on (404 outside dev mode).
pub async fn callback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let Some(dev) = state.config.dev_callback.clone() else {
        return crate::error::ApiError::NotFound.into_response();
    };
    let public_url = state.config.public_url.clone();
    let mut q: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        q.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let mut page = CallbackPage {
        css: CSS,
        tenant_name: "Keygate dev server",
        code: get("code"),
        state: get("state"),
        error: None,
        status: 0,
        response: String::new(),
        tokens: Vec::new(),
        commands: Vec::new(),
    };
    let token_url = format!("{public_url}/token");
    if !get("error").is_empty() {
        // An error response (RFC 6749 4.1.2.1): nothing to exchange.
        page.error = Some(format!(
            "The authorization server answered with an error: {} {}",
            get("error"),
            get("error_description")
        ));
        return render::html(StatusCode::BAD_REQUEST, render::render(&page), &[]);
    }
    if page.code.is_empty() {
        page.error = Some("This page expects ?code=...&state=... from /authorize.".into());
        return render::html(StatusCode::BAD_REQUEST, render::render(&page), &[]);
    }
    if !get("iss").is_empty() && get("iss") != public_url {
        // RFC 9207 2.4: a response from another issuer is not ours to redeem.
        page.error = Some(format!(
            "The response's iss is {}, not this server's issuer {public_url}.",
            get("iss")
        ));
        return render::html(StatusCode::BAD_REQUEST, render::render(&page), &[]);
    }
    let redirect_uri = DevCallback::redirect_uri(&public_url);
    let verifier = dev.verifier(page.state);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", page.code),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let (status, body) = exchange(&state, &dev, &form, peer).await;
    let made = Command {
        id: "exchange-curl",
        title: "The request this page made (done: a code is single-use)",
        text: format!(
            "curl -s -X POST {} -u {} \\\n  -d grant_type=authorization_code -d {} \\\n  -d {} -d {}",
            quote(&token_url),
            quote(&format!("{}:{}", dev.client_id, dev.client_secret)),
            quote(&format!("code={}", page.code)),
            quote(&format!("redirect_uri={redirect_uri}")),
            quote(&format!("code_verifier={verifier}")),
        ),
    };
    page.status = status;
    page.response = serde_json::to_string_pretty(&body).unwrap_or_default();
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if status != 200 {
        page.error = Some(format!(
            "The token endpoint refused the code ({status}): unknown, expired or already \
             redeemed. A code is redeemed once: \
             reloading this page replays it, and a replayed code also revokes the tokens \
             issued from it (RFC 6749 4.1.2). Start again at the authorize URL."
        ));
    }
    if let Some(t) = field("id_token") {
        page.tokens.push(decode("id_token", &t));
    }
    if let Some(t) = field("access_token") {
        page.tokens.push(decode("access_token", &t));
    }
    if let Some(t) = field("refresh_token") {
        page.commands.push(Command {
            id: "refresh-curl",
            title: "A new access token with the refresh token (it rotates: use the new one next)",
            text: format!(
                "curl -s -X POST {} -u {} \\\n  -d grant_type=refresh_token -d {}",
                quote(&token_url),
                quote(&format!("{}:{}", dev.client_id, dev.client_secret)),
                quote(&format!("refresh_token={t}"))
            ),
        });
    }
    if let Some(t) = field("access_token") {
        page.commands.push(Command {
            id: "userinfo-curl",
            title: "Userinfo with the access token",
            text: format!(
                "curl -s {} -H {}",
                quote(&format!("{public_url}/userinfo")),
                quote(&format!("Authorization: Bearer {t}"))
            ),
        });
    }
    if status == 200 {
        page.commands.push(made);
    }
    let status = match status {
        200 => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    render::html(status, render::render(&page), &[])
}

/// POSTs `form` to this server's own token endpoint with the demo client's
/// Basic credentials; the status and the JSON answer.
async fn exchange(
    state: &AppState,
    dev: &DevCallback,
    form: &[(&str, &str)],
    peer: Option<ConnectInfo<SocketAddr>>,
) -> (u16, serde_json::Value) {
    use tower::ServiceExt;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    // The Host of the public URL: the root door of tenant `default`.
    let host = url::Url::parse(&state.config.public_url)
        .map(|u| u[url::Position::BeforeHost..url::Position::AfterPort].to_string())
        .unwrap_or_default();
    let mut req = match axum::http::Request::post("/token")
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            keygate_core::basic::encode_basic(&dev.client_id, &dev.client_secret),
        )
        .body(Body::from(body))
    {
        Ok(r) => r,
        Err(e) => return (500, serde_json::json!({ "error": e.to_string() })),
    };
    if let Some(p) = peer {
        req.extensions_mut().insert(p);
    }
    let res = match crate::router(state.clone()).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(
        |_| serde_json::json!({ "body": String::from_utf8_lossy(&bytes).into_owned() }),
    );
    (status, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_valid_per_state_and_keyed() {
        let dev = DevCallback {
            client_id: "demo".into(),
            client_secret: "s".into(),
            verifier_key: "k1".into(),
        };
        let v = dev.verifier("state-1");
        assert!(keygate_core::pkce::is_valid_verifier(&v), "{v}");
        assert_eq!(v, dev.verifier("state-1"));
        assert_ne!(v, dev.verifier("state-2"));
        let other = DevCallback {
            verifier_key: "k2".into(),
            ..dev.clone()
        };
        assert_ne!(v, other.verifier("state-1"));
        assert_eq!(
            dev.challenge("state-1"),
            keygate_core::pkce::s256_challenge(&v)
        );
        assert!(!format!("{dev:?}").contains("\"s\""));
    }

    #[test]
    fn shell_quoting_and_decoding() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        let d = decode("t", "eyJhbGciOiJub25lIn0.eyJzdWIiOiI8Yj4ifQ.");
        assert_eq!(d.header, "{\n  \"alg\": \"none\"\n}");
        assert!(d.payload.contains("\"sub\": \"<b>\""), "{}", d.payload);
        assert_eq!(decode("t", "opaque").payload, "(not a JWT)");
    }
}
