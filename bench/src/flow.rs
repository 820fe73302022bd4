//! The untimed setup: discovery, signing in on the hosted (or the peer's
//! interaction) pages, obtaining authorization codes, first exchanges.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::html::html_text;
pub(crate) use crate::html::{fill_form, parse_forms};

pub(crate) type Result<T> = std::result::Result<T, String>;

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// Everything the workloads need to know about the server under test.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub redirect_uri: String,
    pub public_client_id: Option<String>,
    pub confidential: Option<(String, String)>,
    pub cc: Option<(String, String)>,
    pub user_email: Option<String>,
    pub user_password: Option<String>,
    pub authorize_params: Vec<(String, String)>,
    pub jwt_access_tokens: bool,
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
}

/// Refuses anything but loopback addresses: the tool only ever targets
/// 127.0.0.1 (or ::1 / localhost).
pub(crate) fn ensure_loopback(url: &Url) -> Result<()> {
    let ok = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.parse::<IpAddr>()
                    .map(|ip| ip.is_loopback())
                    .unwrap_or(false)
        }
        None => false,
    };
    if ok && (url.scheme() == "http" || url.scheme() == "https") {
        Ok(())
    } else {
        Err(format!(
            "refusing non-loopback URL {url}: keygate-bench only targets 127.0.0.1"
        ))
    }
}

/// Reads {issuer}/.well-known/openid-configuration.
pub(crate) async fn discover(
    http: &Client,
    issuer: &str,
) -> Result<(String, Url, String, Option<String>)> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let parsed = Url::parse(&url).map_err(|e| format!("bad issuer {issuer}: {e}"))?;
    ensure_loopback(&parsed)?;
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    if status != StatusCode::OK {
        return Err(format!("GET {url}: {status}: {}", snippet(&body)));
    }
    let d: Discovery =
        serde_json::from_slice(&body).map_err(|e| format!("discovery document: {e}"))?;
    let authz = Url::parse(&d.authorization_endpoint)
        .map_err(|e| format!("authorization_endpoint: {e}"))?;
    ensure_loopback(&authz)?;
    ensure_loopback(&Url::parse(&d.token_endpoint).map_err(|e| format!("token_endpoint: {e}"))?)?;
    if let Some(u) = &d.userinfo_endpoint {
        ensure_loopback(&Url::parse(u).map_err(|e| format!("userinfo_endpoint: {e}"))?)?;
    }
    Ok((d.issuer, authz, d.token_endpoint, d.userinfo_endpoint))
}

pub(crate) fn random_b64(bytes: usize) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("random");
    URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn random_hex(bytes: usize) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("random");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn pkce_pair() -> (String, String) {
    let verifier = random_b64(32);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}

pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1).
pub(crate) fn basic_auth(id: &str, secret: &str) -> HeaderValue {
    let raw = format!("{}:{}", enc(id), enc(secret));
    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).expect("header value")
}

pub(crate) fn snippet(body: &[u8]) -> String {
    let raw = String::from_utf8_lossy(body);
    let raw = raw.trim();
    // An HTML error page: its text, without styles, scripts and tags.
    let text = if raw.starts_with('<') {
        html_text(raw)
    } else {
        raw.to_string()
    };
    if text.chars().count() > 300 {
        format!("{}...", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

/// Sign-in + /authorize driver with its own cookie jar (the session).
pub(crate) struct Browser {
    pub http: Client,
    pub target: Arc<Target>,
}

impl Browser {
    pub(crate) fn new(target: Arc<Target>) -> Result<Self> {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Browser { http, target })
    }

    /// Runs /authorize for `client_id` (signing in on the page if needed)
    /// and returns (code, code_verifier).
    pub(crate) async fn obtain_code(
        &self,
        client_id: &str,
        scope: &str,
    ) -> Result<(String, String)> {
        let t = &self.target;
        let (verifier, challenge) = pkce_pair();
        let state = random_b64(12);
        let nonce = random_b64(12);
        let mut url = t.authorization_endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", &t.redirect_uri)
                .append_pair("scope", scope)
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            for (k, v) in &t.authorize_params {
                q.append_pair(k, v);
            }
        }
        let redirect = Url::parse(&t.redirect_uri).map_err(|e| format!("redirect_uri: {e}"))?;
        let mut resp = self.get(&url).await?;
        let mut posted_login = false;
        for _ in 0..16 {
            let status = resp.status();
            let page = resp.url().clone();
            if status.is_redirection() {
                let loc = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("{status} without Location from {page}"))?;
                let next = page
                    .join(loc)
                    .map_err(|e| format!("bad Location {loc}: {e}"))?;
                if same_endpoint(&next, &redirect) {
                    return code_from_redirect(&next, &state).map(|c| (c, verifier));
                }
                ensure_loopback(&next)?;
                resp = self.get(&next).await?;
                continue;
            }
            let body = resp.text().await.map_err(|e| format!("GET {page}: {e}"))?;
            if status != StatusCode::OK {
                return Err(format!("{page}: {status}: {}", snippet(body.as_bytes())));
            }
            let forms = parse_forms(&body);
            let form = forms
                .iter()
                .find(|f| f.method == "post" && f.inputs.iter().any(|i| i.kind == "password"))
                .or_else(|| forms.iter().find(|f| f.method == "post"))
                .ok_or_else(|| {
                    format!(
                        "{page}: 200 without a sign-in form: {}",
                        snippet(body.as_bytes())
                    )
                })?;
            let is_login = form.inputs.iter().any(|i| i.kind == "password");
            if is_login {
                if posted_login {
                    return Err(format!(
                        "sign-in refused (the page came back): {}",
                        snippet(body.as_bytes())
                    ));
                }
                posted_login = true;
            }
            let email = t.user_email.as_deref().unwrap_or("");
            let password = t.user_password.as_deref().unwrap_or("");
            let fields = fill_form(form, email, password);
            let action = page
                .join(
                    form.action
                        .as_deref()
                        .filter(|a| !a.is_empty())
                        .unwrap_or(page.as_str()),
                )
                .map_err(|e| format!("form action: {e}"))?;
            ensure_loopback(&action)?;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter())
                .finish();
            resp = self
                .http
                .post(action.clone())
                .header(CONTENT_TYPE, FORM)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("POST {action}: {e}"))?;
        }
        Err("too many steps before the redirect to redirect_uri".into())
    }

    async fn get(&self, url: &Url) -> Result<reqwest::Response> {
        self.http
            .get(url.clone())
            .header(ACCEPT, "text/html,application/xhtml+xml")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))
    }
}

fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

fn code_from_redirect(url: &Url, state: &str) -> Result<String> {
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    for (k, v) in url.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(e) = error {
        return Err(format!("authorization error in redirect: {e} ({url})"));
    }
    if got_state.as_deref() != Some(state) {
        return Err(format!("state mismatch in redirect {url}"));
    }
    code.filter(|c| !c.is_empty())
        .ok_or_else(|| format!("no code in redirect {url}"))
}

/// The fields of a token response the tool checks.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct TokenResponse {
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<serde_json::Number>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    #[allow(dead_code)]
    pub scope: Option<String>,
}

pub(crate) fn is_jwt(s: &str) -> bool {
    let mut parts = 0;
    for p in s.split('.') {
        if p.is_empty()
            || !p
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return false;
        }
        parts += 1;
    }
    parts == 3
}

/// Checks a token response: access_token (a JWT when required), token_type
/// Bearer, expires_in > 0, an id_token JWT when `want_id`, a refresh_token
/// when `want_refresh`. Returns the reason when invalid.
pub(crate) fn check_token_response(
    t: &TokenResponse,
    jwt_at: bool,
    want_id: bool,
    want_refresh: bool,
    token_type: &str,
) -> std::result::Result<(), &'static str> {
    match t.access_token.as_deref() {
        None | Some("") => return Err("no access_token"),
        Some(at) if jwt_at && !is_jwt(at) => return Err("access_token is not a JWT"),
        _ => {}
    }
    if !t
        .token_type
        .as_deref()
        .is_some_and(|tt| tt.eq_ignore_ascii_case(token_type))
    {
        return Err("token_type is not the expected one (Bearer, or DPoP with a proof)");
    }
    if !t
        .expires_in
        .as_ref()
        .and_then(|n| n.as_f64())
        .is_some_and(|n| n > 0.0)
    {
        return Err("no positive expires_in");
    }
    if want_id && !t.id_token.as_deref().is_some_and(is_jwt) {
        return Err("no id_token JWT");
    }
    if want_refresh && t.refresh_token.as_deref().is_none_or(str::is_empty) {
        return Err("no refresh_token");
    }
    Ok(())
}

pub(crate) enum ClientAuth<'a> {
    Public(&'a str),
    Basic(&'a str, &'a str),
}

/// Untimed exchange of a code at the token endpoint.
pub(crate) async fn exchange_code(
    http: &Client,
    t: &Target,
    code: &str,
    verifier: &str,
    auth: ClientAuth<'_>,
) -> Result<TokenResponse> {
    let mut body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
        enc(code),
        enc(&t.redirect_uri),
        enc(verifier)
    );
    let mut req = http
        .post(&t.token_endpoint)
        .header(CONTENT_TYPE, FORM)
        .header(ACCEPT, "application/json");
    match auth {
        ClientAuth::Public(id) => {
            body.push_str("&client_id=");
            body.push_str(&enc(id));
        }
        ClientAuth::Basic(id, secret) => req = req.header(AUTHORIZATION, basic_auth(id, secret)),
    }
    let resp = req
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {}: {e}", t.token_endpoint))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("POST {}: {e}", t.token_endpoint))?;
    if status != StatusCode::OK {
        return Err(format!("code exchange: {status}: {}", snippet(&bytes)));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("code exchange: bad JSON ({e}): {}", snippet(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shape() {
        assert!(is_jwt("eyJh.eyJz.c2ln"));
        assert!(!is_jwt("eyJh.eyJz"));
        assert!(!is_jwt("eyJh..c2ln"));
        assert!(!is_jwt("opaque-token"));
    }
}
