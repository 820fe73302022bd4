//! Helpers of the hosted-page tests (`sign_in_pages`, `sessions`, `codes`),
//! which drive the authorization endpoint and the pages at the three
//! front doors: the path form (`/acme/as`), the root of the public URL
//! (tenant `default`) and a tenant's own domain (`http://login.acme.test`,
//! reached by resolving that name to the test server, so the Host header,
//! the cookies and the form actions are exactly what a browser would see).

use crate::harness::*;
use serde_json::Value;
use std::collections::HashMap;

pub const DOMAIN: &str = "http://login.acme.test";
pub const DOMAIN_HOST: &str = "login.acme.test";
pub const CALLBACK: &str = "http://127.0.0.1:9/callback";
pub const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";
pub const BAD_CREDENTIALS: &str = "The e-mail address or password is incorrect.";
pub const SCOPE: &str = "openid profile email offline_access";

/// A server with tenant `acme` (reached by path and by its own domain) and
/// the always-present tenant `default` (reached at the root), each with the
/// user ann@example.com and a public client.
pub struct Setup {
    pub db: Database,
    pub server: Server,
    pub acme: TestClient,
    pub default: TestClient,
    pub ann_acme: String,
    pub ann_default: String,
}

/// Query or form parameters.
pub type Pairs<'a> = Vec<(&'a str, &'a str)>;
/// A form's fields as submitted.
pub type Fields = Vec<(String, String)>;

/// One front door: its issuer, a client of its tenant and ann's `sub` there.
pub struct Door {
    pub name: &'static str,
    pub tenant: &'static str,
    pub issuer: String,
    pub client: TestClient,
    pub sub: String,
}

impl Setup {
    pub async fn new() -> Setup {
        Self::with_env(&[]).await
    }

    pub async fn with_env(env: &[(&str, &str)]) -> Setup {
        let db = Database::new();
        db.tenant("acme", &[DOMAIN]);
        let ann_acme = db.user("acme", EMAIL, PASSWORD);
        let ann_default = db.user("default", EMAIL, PASSWORD);
        let args = ["--public", "--post-logout-redirect-uri", SIGNED_OUT];
        let acme = db.client("acme", CALLBACK, &args);
        let default = db.client("default", CALLBACK, &args);
        let server = Server::start_with(&db, env).await;
        Setup {
            db,
            server,
            acme,
            default,
            ann_acme,
            ann_default,
        }
    }

    pub fn path(&self) -> Door {
        Door {
            name: "path",
            tenant: "acme",
            issuer: self.server.issuer("acme"),
            client: self.acme.clone(),
            sub: self.ann_acme.clone(),
        }
    }

    pub fn doors(&self) -> Vec<Door> {
        vec![
            self.path(),
            Door {
                name: "root",
                tenant: "default",
                issuer: self.server.base.clone(),
                client: self.default.clone(),
                sub: self.ann_default.clone(),
            },
            Door {
                name: "domain",
                tenant: "acme",
                issuer: DOMAIN.to_string(),
                client: self.acme.clone(),
                sub: self.ann_acme.clone(),
            },
        ]
    }

    /// A client that reaches the tenant domain at the test server.
    pub fn builder(&self) -> reqwest::ClientBuilder {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.server.port).parse().unwrap();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(DOMAIN_HOST, addr)
    }

    /// A browser (cookies, no automatic redirects) that reaches every door.
    pub fn browser(&self) -> Browser {
        Browser {
            http: self.builder().cookie_store(true).build().unwrap(),
        }
    }

    /// POSTs a form to `{issuer}/token`; returns status and JSON body.
    pub async fn token(&self, issuer: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .builder()
            .build()
            .unwrap()
            .post(format!("{issuer}/token"))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Exchanges a code of a public client; returns status and JSON body.
    pub async fn exchange(&self, door: &Door, code: &str, verifier: &str) -> (u16, Value) {
        self.token(
            &door.issuer,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &door.client.redirect_uri),
                ("client_id", &door.client.id),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// Exchanges a code that must succeed; returns the id_token's claims.
    pub async fn id_token(&self, door: &Door, code: &str, verifier: &str) -> Value {
        let (status, body) = self.exchange(door, code, verifier).await;
        assert_eq!(status, 200, "{}: {body}", door.name);
        claims(body["id_token"].as_str().unwrap())
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.db
            .count(&format!("SELECT COUNT(*) FROM {table}"))
            .await
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `{issuer}/{endpoint}` with exactly these query parameters.
pub fn url_with(issuer: &str, endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{issuer}{endpoint}")).unwrap();
    if !pairs.is_empty() {
        u.query_pairs_mut().extend_pairs(pairs);
    }
    u.to_string()
}

/// The parameters of a valid request of a public client, with PKCE.
pub fn request<'a>(client: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", &client.id),
        ("redirect_uri", &client.redirect_uri),
        ("scope", SCOPE),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The parameters without those named.
pub fn without<'a>(params: &[(&'a str, &'a str)], names: &[&str]) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .filter(|(k, _)| !names.contains(k))
        .cloned()
        .collect()
}

/// The parameters with `name` set to `value` (replacing it if present).
pub fn with<'a>(
    params: &[(&'a str, &'a str)],
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut p = without(params, &[name]);
    p.push((name, value));
    p
}

pub fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

/// The target of the page's first link whose URL contains `needle`.
pub fn link(page: &Page, needle: &str) -> String {
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("<a href=\"") {
        let start = i + "<a href=\"".len();
        let end = rest[start..].find('"').unwrap() + start;
        let href = unescape(&rest[start..end]);
        if href.contains(needle) {
            return url::Url::parse(&page.url)
                .unwrap()
                .join(&href)
                .unwrap()
                .to_string();
        }
        rest = &rest[end..];
    }
    panic!("no link containing {needle:?} in {}", page.body)
}

/// The text of the page's alert (the error message), if any.
pub fn alert(page: &Page) -> Option<String> {
    let i = page.body.find("role=\"alert\">")? + "role=\"alert\">".len();
    let j = page.body[i..].find("</p>")? + i;
    Some(unescape(&page.body[i..j]))
}

pub fn field_names(page: &Page) -> Vec<String> {
    page.form().1.into_iter().map(|(n, _)| n).collect()
}

pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub fn set_cookies(page: &Page) -> Vec<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

pub fn cookie<'a>(cookies: &'a [String], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
}

pub fn header<'a>(page: &'a Page, name: &str) -> &'a str {
    page.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header on {} ({})", page.url, page.status))
        .to_str()
        .unwrap()
}

/// An HTML page shown in place of a redirect: never a Location header.
pub fn assert_page(page: &Page, status: u16, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
    assert!(
        page.location().is_none(),
        "{what}: redirected to {:?}",
        page.location()
    );
    assert!(
        header(page, "content-type").starts_with("text/html"),
        "{what}"
    );
}

/// The sign-in page: what it must contain at every door.
pub fn assert_sign_in_page(page: &Page, door: &Door, what: &str) {
    assert_page(page, 200, what);
    assert_eq!(
        page.body.matches("<form").count(),
        1,
        "{what}: one form: {}",
        page.body
    );
    assert!(
        page.body.contains("<form method=\"post\""),
        "{what}: {}",
        page.body
    );
    let (action, fields) = page.form();
    assert_eq!(action, format!("{}/login", door.issuer), "{what}");
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"email") && names.contains(&"password"),
        "{what}: {names:?}"
    );
    assert!(page.body.contains("type=\"password\""), "{what}");
}

/// A 303 to the client's redirect URI; returns its query parameters.
pub fn assert_redirect(page: &Page, door: &Door, what: &str) -> HashMap<String, String> {
    assert_eq!(page.status, 303, "{what}: {}", page.body);
    let loc = page.location().unwrap();
    assert!(
        loc.starts_with(&format!("{}?", door.client.redirect_uri)),
        "{what}: redirected to {loc}"
    );
    let params = page.redirect_params();
    assert_eq!(params.get("iss"), Some(&door.issuer), "{what}: {loc}");
    params
}

/// A redirect carrying a code and the request's state; returns the code.
pub fn assert_code(page: &Page, door: &Door, what: &str) -> String {
    let params = assert_redirect(page, door, what);
    assert_eq!(
        params.get("state").map(String::as_str),
        Some("st-123"),
        "{what}"
    );
    assert!(!params.contains_key("error"), "{what}: {params:?}");
    params["code"].clone()
}

/// Opens the authorization URL, expects the sign-in page, signs in as ann.
pub async fn sign_in(b: &Browser, door: &Door, url: &str) -> Page {
    let page = b.get(url).await;
    assert_sign_in_page(&page, door, door.name);
    b.submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await
}

/// Signs in at a door and returns the code and the PKCE verifier.
pub async fn code_at(b: &Browser, door: &Door) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    let done = sign_in(b, door, &url).await;
    (assert_code(&done, door, door.name), verifier)
}

// ---------------------------------------------------------------------------
// /authorize and the pages it shows
