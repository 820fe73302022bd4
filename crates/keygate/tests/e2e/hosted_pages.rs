//! The authorization endpoint, the hosted sign-in, registration and
//! sign-out pages, sessions and authorization codes, over HTTP at the three
//! front doors: the path form (`/acme/as`), the root of the public URL
//! (tenant `default`) and a tenant's own domain (`http://login.acme.test`,
//! reached by resolving that name to the test server, so the Host header,
//! the cookies and the form actions are exactly what a browser would see).

use crate::harness::*;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const DOMAIN: &str = "http://login.acme.test";
const DOMAIN_HOST: &str = "login.acme.test";
const CALLBACK: &str = "http://127.0.0.1:9/callback";
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";
const BAD_CREDENTIALS: &str = "The e-mail address or password is incorrect.";
const SCOPE: &str = "openid profile email offline_access";

/// A server with tenant `acme` (reached by path and by its own domain) and
/// the always-present tenant `default` (reached at the root), each with the
/// user ann@example.com and a public client.
struct Setup {
    db: Database,
    server: Server,
    acme: TestClient,
    default: TestClient,
    ann_acme: String,
    ann_default: String,
}

/// Query or form parameters.
type Pairs<'a> = Vec<(&'a str, &'a str)>;
/// A form's fields as submitted.
type Fields = Vec<(String, String)>;

/// One front door: its issuer, a client of its tenant and ann's `sub` there.
struct Door {
    name: &'static str,
    tenant: &'static str,
    issuer: String,
    client: TestClient,
    sub: String,
}

impl Setup {
    async fn new() -> Setup {
        Self::with_env(&[]).await
    }

    async fn with_env(env: &[(&str, &str)]) -> Setup {
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

    fn path(&self) -> Door {
        Door {
            name: "path",
            tenant: "acme",
            issuer: self.server.issuer("acme"),
            client: self.acme.clone(),
            sub: self.ann_acme.clone(),
        }
    }

    fn doors(&self) -> Vec<Door> {
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
    fn builder(&self) -> reqwest::ClientBuilder {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.server.port).parse().unwrap();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(DOMAIN_HOST, addr)
    }

    /// A browser (cookies, no automatic redirects) that reaches every door.
    fn browser(&self) -> Browser {
        Browser {
            http: self.builder().cookie_store(true).build().unwrap(),
        }
    }

    /// POSTs a form to `{issuer}/token`; returns status and JSON body.
    async fn token(&self, issuer: &str, form: &[(&str, &str)]) -> (u16, Value) {
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
    async fn exchange(&self, door: &Door, code: &str, verifier: &str) -> (u16, Value) {
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
    async fn id_token(&self, door: &Door, code: &str, verifier: &str) -> Value {
        let (status, body) = self.exchange(door, code, verifier).await;
        assert_eq!(status, 200, "{}: {body}", door.name);
        claims(body["id_token"].as_str().unwrap())
    }

    async fn count(&self, table: &str) -> i64 {
        self.db
            .count(&format!("SELECT COUNT(*) FROM {table}"))
            .await
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `{issuer}/{endpoint}` with exactly these query parameters.
fn url_with(issuer: &str, endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{issuer}{endpoint}")).unwrap();
    if !pairs.is_empty() {
        u.query_pairs_mut().extend_pairs(pairs);
    }
    u.to_string()
}

/// The parameters of a valid request of a public client, with PKCE.
fn request<'a>(client: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
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
fn without<'a>(params: &[(&'a str, &'a str)], names: &[&str]) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .filter(|(k, _)| !names.contains(k))
        .cloned()
        .collect()
}

/// The parameters with `name` set to `value` (replacing it if present).
fn with<'a>(
    params: &[(&'a str, &'a str)],
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut p = without(params, &[name]);
    p.push((name, value));
    p
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

/// The target of the page's first link whose URL contains `needle`.
fn link(page: &Page, needle: &str) -> String {
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
fn alert(page: &Page) -> Option<String> {
    let i = page.body.find("role=\"alert\">")? + "role=\"alert\">".len();
    let j = page.body[i..].find("</p>")? + i;
    Some(unescape(&page.body[i..j]))
}

fn field_names(page: &Page) -> Vec<String> {
    page.form().1.into_iter().map(|(n, _)| n).collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn set_cookies(page: &Page) -> Vec<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie<'a>(cookies: &'a [String], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
}

fn header<'a>(page: &'a Page, name: &str) -> &'a str {
    page.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header on {} ({})", page.url, page.status))
        .to_str()
        .unwrap()
}

/// An HTML page shown in place of a redirect: never a Location header.
fn assert_page(page: &Page, status: u16, what: &str) {
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
fn assert_sign_in_page(page: &Page, door: &Door, what: &str) {
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
fn assert_redirect(page: &Page, door: &Door, what: &str) -> HashMap<String, String> {
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
fn assert_code(page: &Page, door: &Door, what: &str) -> String {
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
async fn sign_in(b: &Browser, door: &Door, url: &str) -> Page {
    let page = b.get(url).await;
    assert_sign_in_page(&page, door, door.name);
    b.submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await
}

/// Signs in at a door and returns the code and the PKCE verifier.
async fn code_at(b: &Browser, door: &Door) -> (String, String) {
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

#[tokio::test]
async fn authorize_shows_the_sign_in_page_at_every_front_door() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (verifier, challenge) = pkce();
        let params = request(&door.client, &challenge);
        let url = url_with(&door.issuer, "/authorize", &params);

        // GET: the sign-in page, with a link to registration.
        let page = b.get(&url).await;
        assert_sign_in_page(&page, &door, &format!("{} GET", door.name));
        let register = link(&page, "/register");
        assert!(
            register.starts_with(&format!("{}/register?", door.issuer)),
            "{register}"
        );
        let reg = b.get(&register).await;
        assert_page(&reg, 200, "registration page");
        assert_eq!(reg.body.matches("<form").count(), 1);
        assert!(reg.body.contains("<form method=\"post\""));
        assert_eq!(reg.form().0, format!("{}/register", door.issuer));
        let names = field_names(&reg);
        for n in ["email", "password", "name"] {
            assert!(
                names.iter().any(|x| x == n),
                "{}: {n} in {names:?}",
                door.name
            );
        }
        assert!(link(&reg, "/login").starts_with(&format!("{}/login?", door.issuer)));

        // POST (form): the same page.
        let r = b
            .http
            .post(format!("{}/authorize", door.issuer))
            .form(&params)
            .send()
            .await
            .unwrap();
        let posted = Page {
            status: r.status().as_u16(),
            url: r.url().to_string(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        };
        assert_sign_in_page(&posted, &door, &format!("{} POST", door.name));

        // Signing in ends at the redirect URI with code, state and iss.
        let done = b
            .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await;
        let code = assert_code(&done, &door, door.name);
        let id = s.id_token(&door, &code, &verifier).await;
        assert_eq!(id["iss"], door.issuer.as_str(), "{}", door.name);
        assert_eq!(id["sub"], door.sub.as_str(), "{}", door.name);
        assert_eq!(id["aud"], door.client.id.as_str(), "{}", door.name);
    }
}

#[tokio::test]
async fn login_hint_fills_in_the_email() {
    let s = Setup::new().await;
    let door = s.path();
    let (_, challenge) = pkce();
    let mut params = request(&door.client, &challenge);
    params.push(("login_hint", "hint@example.com"));
    let page = s
        .browser()
        .get(&url_with(&door.issuer, "/authorize", &params))
        .await;
    assert_sign_in_page(&page, &door, "login_hint");
    assert_eq!(field(&page.form().1, "email"), Some("hint@example.com"));
}

#[tokio::test]
async fn untrusted_redirect_targets_get_an_error_page_never_a_redirect() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (_, challenge) = pkce();
        let id = door.client.id.as_str();
        let cases: Vec<(&str, Pairs, &str)> = vec![
            (
                "unknown client",
                vec![
                    ("response_type", "code"),
                    ("client_id", "no-such-client"),
                    ("redirect_uri", CALLBACK),
                    ("state", "s"),
                ],
                "not known",
            ),
            (
                "no client_id",
                vec![
                    ("response_type", "code"),
                    ("redirect_uri", CALLBACK),
                    ("state", "s"),
                ],
                "client_id",
            ),
            (
                "unregistered redirect_uri",
                vec![
                    ("response_type", "code"),
                    ("client_id", id),
                    ("redirect_uri", "https://evil.test/callback"),
                    ("code_challenge", &challenge),
                    ("state", "s"),
                ],
                "not registered",
            ),
            (
                "trailing slash",
                vec![
                    ("response_type", "code"),
                    ("client_id", id),
                    ("redirect_uri", "http://127.0.0.1:9/callback/"),
                    ("code_challenge", &challenge),
                ],
                "not registered",
            ),
            (
                "other case",
                vec![
                    ("response_type", "code"),
                    ("client_id", id),
                    ("redirect_uri", "http://127.0.0.1:9/Callback"),
                    ("code_challenge", &challenge),
                ],
                "not registered",
            ),
            (
                "extra query",
                vec![
                    ("response_type", "code"),
                    ("client_id", id),
                    ("redirect_uri", "http://127.0.0.1:9/callback?x=1"),
                    ("code_challenge", &challenge),
                ],
                "not registered",
            ),
            (
                "other port",
                vec![
                    ("response_type", "code"),
                    ("client_id", id),
                    ("redirect_uri", "http://127.0.0.1:10/callback"),
                    ("code_challenge", &challenge),
                ],
                "not registered",
            ),
            // An error that would otherwise be redirected stays on the page
            // when the redirect URI is not trusted.
            (
                "bad response_type, unknown client",
                vec![
                    ("response_type", "token"),
                    ("client_id", "no-such-client"),
                    ("redirect_uri", CALLBACK),
                ],
                "not known",
            ),
            (
                "bad response_type, bad redirect_uri",
                vec![
                    ("response_type", "token"),
                    ("client_id", id),
                    ("redirect_uri", "https://evil.test/callback"),
                ],
                "not registered",
            ),
        ];
        for (what, params, needle) in &cases {
            let what = format!("{} {what}", door.name);
            let page = b.get(&url_with(&door.issuer, "/authorize", params)).await;
            assert_page(&page, 400, &what);
            assert!(page.body.contains(needle), "{what}: {}", page.body);
            assert!(!page.body.contains("<form"), "{what}: {}", page.body);
            // The same by POST.
            let r = b
                .http
                .post(format!("{}/authorize", door.issuer))
                .form(params)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 400, "{what} POST");
            assert!(r.headers().get("location").is_none(), "{what} POST");
            // And on the sign-in and registration pages reached directly.
            for endpoint in ["/login", "/register"] {
                let page = b.get(&url_with(&door.issuer, endpoint, params)).await;
                assert_page(&page, 400, &format!("{what} {endpoint}"));
            }
        }
    }
    assert_eq!(s.count("grants").await, 0);
}

#[tokio::test]
async fn several_redirect_uris_need_an_exact_one_and_a_single_one_is_implied() {
    let s = Setup::new().await;
    let second = "http://127.0.0.1:9/second";
    let two =
        s.db.client("acme", CALLBACK, &["--public", "--redirect-uri", second]);
    let b = s.browser();
    let door = s.path();
    let (verifier, challenge) = pkce();

    // Two registered, none sent: an error page.
    let mut params = request(&two, &challenge);
    params.retain(|(k, _)| *k != "redirect_uri");
    let page = b.get(&url_with(&door.issuer, "/authorize", &params)).await;
    assert_page(&page, 400, "two registered, none sent");
    assert!(page.body.contains("redirect_uri"), "{}", page.body);

    // Two registered, the second sent exactly: the code goes there.
    params.push(("redirect_uri", second));
    let done = sign_in(&b, &door, &url_with(&door.issuer, "/authorize", &params)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.location().unwrap().starts_with(&format!("{second}?")),
        "{:?}",
        done.location()
    );
    let code = done.redirect_params()["code"].clone();
    let (status, body) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", second),
                ("client_id", &two.id),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // One registered, none sent: it is implied (now signed in, so at once),
    // and the token request may leave it out too.
    let (verifier, challenge) = pkce();
    let mut params = request(&door.client, &challenge);
    params.retain(|(k, _)| *k != "redirect_uri");
    let page = b.get(&url_with(&door.issuer, "/authorize", &params)).await;
    let code = assert_code(&page, &door, "implied redirect_uri");
    let (status, body) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &door.client.id),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn other_errors_redirect_with_error_description_and_state() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (_, challenge) = pkce();
        let base = request(&door.client, &challenge);
        let cases: Vec<(&str, Pairs, &str, &str)> = vec![
            (
                "no response_type",
                without(&base, &["response_type"]),
                "invalid_request",
                "response_type",
            ),
            (
                "response_type=token",
                with(&base, "response_type", "token"),
                "unsupported_response_type",
                "response_type",
            ),
            (
                "unknown scope",
                with(&base, "scope", "openid admin"),
                "invalid_scope",
                "admin",
            ),
            (
                "public client without PKCE",
                without(&base, &["code_challenge", "code_challenge_method"]),
                "invalid_request",
                "code_challenge",
            ),
            (
                "bad code_challenge_method",
                with(&base, "code_challenge_method", "S512"),
                "invalid_request",
                "code_challenge_method",
            ),
            (
                "prompt=none without a session",
                with(&base, "prompt", "none"),
                "login_required",
                "",
            ),
        ];
        for (what, params, error, needle) in &cases {
            for method in ["GET", "POST"] {
                let what = format!("{} {method} {what}", door.name);
                let page = if method == "GET" {
                    b.get(&url_with(&door.issuer, "/authorize", params)).await
                } else {
                    let fields: Vec<(String, String)> = params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    b.post_form(&format!("{}/authorize", door.issuer), &fields)
                        .await
                };
                let got = assert_redirect(&page, &door, &what);
                assert_eq!(
                    got.get("error").map(String::as_str),
                    Some(*error),
                    "{what}: {got:?}"
                );
                let description = got
                    .get("error_description")
                    .map(String::as_str)
                    .unwrap_or("");
                assert!(
                    !description.is_empty() && description.contains(needle),
                    "{what}: {got:?}"
                );
                assert_eq!(
                    got.get("state").map(String::as_str),
                    Some("st-123"),
                    "{what}"
                );
                assert!(!got.contains_key("code"), "{what}");
            }
        }
    }
    assert_eq!(s.count("grants").await, 0);
    assert_eq!(s.count("sessions").await, 0);
}

// ---------------------------------------------------------------------------
// Sign-in and registration failures

#[tokio::test]
async fn wrong_password_and_unknown_email_show_the_page_again_with_one_message() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (verifier, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        let page = b.get(&url).await;
        assert_sign_in_page(&page, &door, door.name);
        let (sessions, grants) = (s.count("sessions").await, s.count("grants").await);

        let wrong = b
            .submit(&page, &[("email", EMAIL), ("password", "wrong password")])
            .await;
        let unknown = b
            .submit(
                &page,
                &[("email", "nobody@example.com"), ("password", PASSWORD)],
            )
            .await;
        for (what, p) in [("wrong password", &wrong), ("unknown e-mail", &unknown)] {
            let what = format!("{} {what}", door.name);
            assert!(p.status >= 400 && p.status < 500, "{what}: {}", p.status);
            assert!(p.location().is_none(), "{what}");
            assert_eq!(
                alert(p).as_deref(),
                Some(BAD_CREDENTIALS),
                "{what}: {}",
                p.body
            );
            assert_eq!(p.body.matches("<form").count(), 1, "{what}");
            assert!(
                cookie(&set_cookies(p), "kg_session_acme").is_none()
                    && cookie(&set_cookies(p), "kg_session_default").is_none(),
                "{what}"
            );
        }
        assert_eq!(wrong.status, unknown.status, "{}", door.name);
        assert_eq!(s.count("sessions").await, sessions, "{}", door.name);
        assert_eq!(s.count("grants").await, grants, "{}", door.name);

        // The page shown again still works.
        let done = b
            .submit(&wrong, &[("email", EMAIL), ("password", PASSWORD)])
            .await;
        let code = assert_code(&done, &door, door.name);
        s.id_token(&door, &code, &verifier).await;
    }
}

#[tokio::test]
async fn registration_errors_are_precise_and_create_nothing() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (_, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        let page = b.get(&url).await;
        let form = b.get(&link(&page, "/register")).await;
        let users = s.count("users").await;
        let cases = [
            (
                "e-mail taken",
                "ANN@example.com",
                "long enough",
                "already exists",
            ),
            (
                "password of 7 characters",
                "new@example.com",
                "1234567",
                "at least 8 characters",
            ),
            (
                "malformed e-mail",
                "not-an-email",
                "long enough",
                "valid e-mail address",
            ),
            (
                "e-mail without domain",
                "new@",
                "long enough",
                "valid e-mail address",
            ),
        ];
        for (what, email, password, needle) in cases {
            let what = format!("{} {what}", door.name);
            let p = b
                .submit(
                    &form,
                    &[("email", email), ("password", password), ("name", "Nina")],
                )
                .await;
            assert!(p.status >= 400 && p.status < 500, "{what}: {}", p.status);
            assert!(p.location().is_none(), "{what}");
            let msg = alert(&p).unwrap_or_else(|| panic!("{what}: no message: {}", p.body));
            assert!(msg.contains(needle), "{what}: {msg}");
            let names = field_names(&p);
            assert!(
                ["email", "password", "name"]
                    .iter()
                    .all(|n| names.iter().any(|x| x == n)),
                "{what}"
            );
            assert_eq!(p.form().0, format!("{}/register", door.issuer), "{what}");
            assert_eq!(s.count("users").await, users, "{what}");
        }
        assert_eq!(s.count("sessions").await, 0);
        assert_eq!(s.count("grants").await, 0);
    }
}

#[tokio::test]
async fn registration_signs_the_new_person_in() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (verifier, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        let form = b.get(&link(&b.get(&url).await, "/register")).await;
        let email = format!("new-{}@example.com", door.name);
        let done = b
            .submit(
                &form,
                &[
                    ("email", &email),
                    ("password", "8 chars!"),
                    ("name", "Nina New"),
                ],
            )
            .await;
        let code = assert_code(&done, &door, door.name);
        let id = s.id_token(&door, &code, &verifier).await;
        let sub =
            s.db.query_strings(&format!("SELECT sub FROM users WHERE email = '{email}'"))
                .await;
        assert_eq!(sub.len(), 1);
        assert_eq!(id["sub"], sub[0].as_str());
        assert_eq!(id["email"], email.as_str());
        assert_eq!(id["name"], "Nina New");
        // Registered means signed in: the next request gets a code at once.
        let (_, challenge) = pkce();
        let again = b
            .get(&url_with(
                &door.issuer,
                "/authorize",
                &request(&door.client, &challenge),
            ))
            .await;
        assert_code(&again, &door, "after registration");
    }
    assert_eq!(s.count("users").await, 5);
}

// ---------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn session_cookie_is_http_only_lax_and_server_side() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (_, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        let page = b.get(&url).await;
        let csrf = set_cookies(&page);
        let csrf = cookie(&csrf, "kg_csrf").unwrap_or_else(|| panic!("no CSRF cookie: {csrf:?}"));
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(csrf.contains(attr), "{}: {csrf}", door.name);
        }
        assert!(!csrf.contains("Secure"), "http public URL: {csrf}");

        let before = s.count("sessions").await;
        let done = b
            .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await;
        assert_code(&done, &door, door.name);
        let cookies = set_cookies(&done);
        let tenant = door.tenant;
        let session = cookie(&cookies, &format!("kg_session_{tenant}"))
            .unwrap_or_else(|| panic!("no session cookie: {cookies:?}"));
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(session.contains(attr), "{}: {session}", door.name);
        }
        assert!(!session.contains("Secure"), "http public URL: {session}");
        // Stored server-side, by hash only.
        let raw = session
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1;
        assert!(raw.len() >= 43, "{raw}");
        assert_eq!(s.count("sessions").await, before + 1);
        let hashes =
            s.db.query_strings(&format!(
                "SELECT id_hash FROM sessions WHERE tenant_id = '{tenant}'"
            ))
            .await;
        assert!(
            hashes.contains(&keygate_crypto::secrets::sha256_hex(raw)),
            "{hashes:?}"
        );
        assert!(!hashes.iter().any(|h| h == raw));
    }
}

#[tokio::test]
async fn secure_cookies_when_the_public_url_is_https() {
    // The path door does not depend on Host, so a server whose public URL is
    // https can be reached over plain http here.
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let client = db.client("acme", CALLBACK, &["--public"]);
    let port = free_port();
    let mut child = std::process::Command::new(BIN)
        .arg("serve")
        .env("KEYGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYGATE_PUBLIC_URL", "https://keygate.test")
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_MASTER_KEY", MASTER_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    let local = format!("http://127.0.0.1:{port}/acme/as");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{local}/.well-known/openid-configuration"))
        .send()
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (_, challenge) = pkce();
    let r = http
        .get(url_with(
            &local,
            "/authorize",
            &request(&client, &challenge),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csrf = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csrf.starts_with("__Host-kg_csrf=")
            && csrf.contains("; Secure")
            && csrf.contains("HttpOnly")
            && csrf.contains("SameSite=Lax"),
        "{csrf}"
    );
    let page = Page {
        status: 200,
        url: r.url().to_string(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    };
    let (action, mut fields) = page.form();
    assert_eq!(action, "https://keygate.test/acme/as/login");
    fields.retain(|(k, _)| k != "email" && k != "password");
    fields.push(("email".into(), EMAIL.into()));
    fields.push(("password".into(), PASSWORD.into()));
    let value = csrf.split(';').next().unwrap();
    let r = http
        .post(format!("{local}/login"))
        .header("cookie", value)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let session: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session =
        cookie(&session, "__Host-kg_session_acme").unwrap_or_else(|| panic!("{session:?}"));
    for attr in ["; Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session}");
    }
    let loc = r.headers().get("location").unwrap().to_str().unwrap();
    assert!(
        loc.contains("iss=https%3A%2F%2Fkeygate.test%2Facme%2Fas"),
        "{loc}"
    );
}

#[tokio::test]
async fn a_signed_in_person_gets_a_code_without_the_form_unless_asked_to_sign_in() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (first, _) = code_at(&b, &door).await;
        let (_, challenge) = pkce();
        let params = request(&door.client, &challenge);
        let at = |extra: &[(&'static str, &'static str)]| {
            let mut p = params.clone();
            p.extend_from_slice(extra);
            url_with(&door.issuer, "/authorize", &p)
        };
        // Again: a code at once, a new one.
        let again = b.get(&at(&[])).await;
        let code = assert_code(&again, &door, "second /authorize");
        assert_ne!(code, first);
        // prompt=none and a generous max_age are satisfied by the session.
        assert_code(
            &b.get(&at(&[("prompt", "none")])).await,
            &door,
            "prompt=none",
        );
        assert_code(
            &b.get(&at(&[("max_age", "3600")])).await,
            &door,
            "max_age=3600",
        );
        // prompt=login and max_age=0 ask for the password again.
        for extra in [("prompt", "login"), ("max_age", "0")] {
            let page = b.get(&at(&[extra])).await;
            assert_sign_in_page(&page, &door, &format!("{} {extra:?}", door.name));
        }
        // prompt=none with max_age=0 cannot be satisfied silently.
        let page = b.get(&at(&[("prompt", "none"), ("max_age", "0")])).await;
        let got = assert_redirect(&page, &door, "prompt=none max_age=0");
        assert_eq!(got.get("error").map(String::as_str), Some("login_required"));
        // A session of one tenant is not a session of another.
        if door.name == "path" {
            let doors = s.doors();
            let root = &doors[1];
            let page = b
                .get(&url_with(
                    &root.issuer,
                    "/authorize",
                    &request(&root.client, &challenge),
                ))
                .await;
            assert_sign_in_page(&page, root, "other tenant");
        }
    }
}

#[tokio::test]
async fn auth_time_is_the_sign_in_time_and_kept_while_the_session_is_reused() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    let t0 = now();
    let (code, verifier) = code_at(&b, &door).await;
    let t1 = now();
    let id = s.id_token(&door, &code, &verifier).await;
    let auth_time = id["auth_time"].as_i64().unwrap();
    assert!(
        t0 <= auth_time && auth_time <= t1,
        "{t0} <= {auth_time} <= {t1}"
    );
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(
        s.db.query_strings("SELECT CAST(auth_time AS TEXT) FROM sessions")
            .await,
        vec![auth_time.to_string()]
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (verifier, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    let code = assert_code(&b.get(&url).await, &door, "reuse");
    let id = s.id_token(&door, &code, &verifier).await;
    assert_eq!(id["auth_time"], auth_time, "kept on reuse");
    assert!(id["iat"].as_i64().unwrap() > auth_time, "{id}");

    // prompt=login: a new sign-in, a new auth_time, one session.
    let (verifier, challenge) = pkce();
    let mut params = request(&door.client, &challenge);
    params.push(("prompt", "login"));
    let done = sign_in(&b, &door, &url_with(&door.issuer, "/authorize", &params)).await;
    let code = assert_code(&done, &door, "prompt=login");
    let fresh = s.id_token(&door, &code, &verifier).await["auth_time"]
        .as_i64()
        .unwrap();
    assert!(fresh > auth_time, "{fresh} > {auth_time}");
    assert_eq!(
        s.count("sessions").await,
        1,
        "the old session ends on a new sign-in"
    );
    let (verifier, challenge) = pkce();
    let code = assert_code(
        &b.get(&url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        ))
        .await,
        &door,
        "reuse",
    );
    assert_eq!(
        s.id_token(&door, &code, &verifier).await["auth_time"],
        fresh
    );
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (_, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        let page = b.get(&url).await;
        let (action, fields) = page.form();
        let filled: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| match k.as_str() {
                "email" => (k.clone(), EMAIL.to_string()),
                "password" => (k.clone(), PASSWORD.to_string()),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        assert!(
            field(&filled, "csrf").is_some_and(|v| v.len() >= 32),
            "{filled:?}"
        );
        let missing: Vec<_> = filled
            .iter()
            .filter(|(k, _)| k != "csrf")
            .cloned()
            .collect();
        let wrong: Vec<_> = filled
            .iter()
            .map(|(k, v)| {
                if k == "csrf" {
                    (k.clone(), keygate_crypto::secrets::new_secret())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        let (users, sessions, grants) = (
            s.count("users").await,
            s.count("sessions").await,
            s.count("grants").await,
        );
        let register = b.get(&link(&page, "/register")).await;
        let (reg_action, reg_fields) = register.form();
        let reg: Vec<(String, String)> = reg_fields
            .iter()
            .filter(|(k, _)| k != "csrf")
            .map(|(k, v)| match k.as_str() {
                "email" => (k.clone(), "csrf@example.com".to_string()),
                "password" => (k.clone(), "long enough".to_string()),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        let cases: Vec<(&str, &Browser, &str, &Fields)> = vec![
            ("sign-in without token", &b, &action, &missing),
            ("sign-in with a wrong token", &b, &action, &wrong),
            ("registration without token", &b, &reg_action, &reg),
        ];
        let stranger = s.browser();
        for (what, browser, to, form) in cases.into_iter().chain([(
            "sign-in from a browser without the cookie",
            &stranger,
            action.as_str(),
            &filled,
        )]) {
            let what = format!("{} {what}", door.name);
            let p = browser.post_form(to, form).await;
            assert_page(&p, 400, &what);
            assert!(
                alert(&p).is_some_and(|m| m.contains("expired")),
                "{what}: {}",
                p.body
            );
            assert!(
                set_cookies(&p).iter().all(|c| !c.starts_with("kg_session")),
                "{what}"
            );
        }
        assert_eq!(s.count("sessions").await, sessions);
        assert_eq!(s.count("grants").await, grants);
        assert_eq!(s.count("users").await, users);
        // With the token, the same form signs in.
        let done = b.post_form(&action, &filled).await;
        assert_code(&done, &door, door.name);
    }
}

// ---------------------------------------------------------------------------
// Sign-out

#[tokio::test]
async fn sign_out_ends_the_session_and_returns_only_to_a_registered_uri() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        code_at(&b, &door).await;
        let signoff = |pairs: &[(&str, &str)]| url_with(&door.issuer, "/signoff", pairs);
        // A link alone signs nobody out: it asks for confirmation.
        let confirm = b
            .get(&signoff(&[
                ("client_id", &door.client.id),
                ("post_logout_redirect_uri", SIGNED_OUT),
                ("state", "bye"),
            ]))
            .await;
        assert_page(&confirm, 200, "confirmation");
        assert_eq!(confirm.form().0, format!("{}/signoff", door.issuer));
        assert!(field(&confirm.form().1, "csrf").is_some());
        let (_, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        assert_code(&b.get(&url).await, &door, "still signed in");
        // A POST without the CSRF token is refused.
        let fields: Vec<_> = confirm
            .form()
            .1
            .into_iter()
            .filter(|(k, _)| k != "csrf")
            .collect();
        let refused = b.post_form(&confirm.form().0, &fields).await;
        assert_page(&refused, 400, "sign-out without CSRF");
        assert_code(&b.get(&url).await, &door, "still signed in");

        // Confirmed: back to the registered post-logout URI, with state.
        let done = b.submit(&confirm, &[]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location().unwrap(), format!("{SIGNED_OUT}?state=bye"));
        let tenant = door.tenant;
        let cleared = set_cookies(&done);
        let cleared = cookie(&cleared, &format!("kg_session_{tenant}"))
            .unwrap_or_else(|| panic!("{cleared:?}"));
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(
            s.db.count(&format!(
                "SELECT COUNT(*) FROM sessions WHERE tenant_id = '{tenant}'"
            ))
            .await,
            0
        );
        assert_sign_in_page(&b.get(&url).await, &door, "after sign-out");
    }
}

#[tokio::test]
async fn sign_out_without_a_registered_uri_does_not_redirect() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    let (_, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    let signoff = |pairs: &[(&str, &str)]| url_with(&door.issuer, "/signoff", pairs);
    b.submit(
        &b.get(&url).await,
        &[("email", EMAIL), ("password", PASSWORD)],
    )
    .await;

    // Unregistered targets (an outside URL, or the client's *redirect* URI,
    // which is not a post-logout URI): an error page, and no sign-out.
    for bad in [
        "https://evil.test/",
        CALLBACK,
        "http://127.0.0.1:9/signed-out/",
    ] {
        let page = b
            .get(&signoff(&[
                ("client_id", &door.client.id),
                ("post_logout_redirect_uri", bad),
            ]))
            .await;
        assert_page(&page, 400, bad);
        assert!(page.body.contains("not registered"), "{}", page.body);
        assert!(!page.body.contains("<form"));
    }
    // Even through a forged confirmation that carries a valid CSRF token.
    let confirm = b.get(&signoff(&[])).await;
    let page = b
        .submit(
            &confirm,
            &[
                ("client_id", &door.client.id),
                ("post_logout_redirect_uri", "https://evil.test/"),
            ],
        )
        .await;
    assert_page(&page, 400, "forged target");
    // A target without a client is refused too.
    let page = b
        .get(&signoff(&[("post_logout_redirect_uri", SIGNED_OUT)]))
        .await;
    assert_page(&page, 400, "no client_id");
    assert_eq!(s.count("sessions").await, 1);
    assert_code(&b.get(&url).await, &door, "still signed in");

    // No target: signed out on a page of ours.
    let done = b.submit(&b.get(&signoff(&[])).await, &[]).await;
    assert_page(&done, 200, "signed out");
    assert!(done.body.contains("signed out"), "{}", done.body);
    assert_eq!(s.count("sessions").await, 0);
    assert_sign_in_page(&b.get(&url).await, &door, "after sign-out");
}

#[tokio::test]
async fn sign_out_with_an_id_token_hint_needs_no_confirmation() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    let (code, verifier) = code_at(&b, &door).await;
    let (_, body) = s.exchange(&door, &code, &verifier).await;
    let hint = body["id_token"].as_str().unwrap();
    let done = b
        .get(&url_with(
            &door.issuer,
            "/signoff",
            &[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        ))
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location().unwrap(), SIGNED_OUT);
    assert_eq!(s.count("sessions").await, 0);
    // A forged hint is refused.
    let forged = format!("{}x", &hint[..hint.len() - 1]);
    let page = b
        .get(&url_with(
            &door.issuer,
            "/signoff",
            &[
                ("id_token_hint", &forged),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        ))
        .await;
    assert_page(&page, 400, "forged hint");
}

// ---------------------------------------------------------------------------
// Authorization codes

#[tokio::test]
async fn codes_are_long_random_and_stored_only_as_hashes() {
    let s = Setup::new().await;
    let mut codes = Vec::new();
    for door in s.doors() {
        let b = s.browser();
        let (code, _) = code_at(&b, &door).await;
        let (_, challenge) = pkce();
        let again = assert_code(
            &b.get(&url_with(
                &door.issuer,
                "/authorize",
                &request(&door.client, &challenge),
            ))
            .await,
            &door,
            "again",
        );
        codes.extend([code, again]);
    }
    let rows = s
        .db
        .query_strings(
            "SELECT id || '|' || tenant_id || '|' || client_id || '|' || user_sub || '|' || scope || '|' || \
             COALESCE(nonce, '') || '|' || COALESCE(code_challenge, '') || '|' || COALESCE(code_challenge_method, '') || '|' || \
             redirect_uri || '|' || code_hash FROM grants",
        )
        .await;
    assert_eq!(rows.len(), codes.len());
    let hashes = s.db.query_strings("SELECT code_hash FROM grants").await;
    for code in &codes {
        // 128 bits or more, base64url.
        assert!(code.len() >= 22, "{code}");
        assert!(
            code.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{code}"
        );
        assert!(
            hashes.contains(&keygate_crypto::secrets::sha256_hex(code)),
            "{code}"
        );
        assert!(
            rows.iter().all(|r| !r.contains(code.as_str())),
            "the code itself is stored"
        );
    }
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), codes.len());
    // 60 seconds by default.
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM grants WHERE code_expires_at - created_at = 60")
            .await,
        codes.len() as i64
    );
}

#[tokio::test]
async fn codes_are_single_use() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (code, verifier) = code_at(&b, &door).await;
        s.id_token(&door, &code, &verifier).await;
        let (status, body) = s.exchange(&door, &code, &verifier).await;
        assert_eq!(status, 400, "{}: {body}", door.name);
        assert_eq!(body["error"], "invalid_grant", "{}", door.name);
    }
}

#[tokio::test]
async fn codes_expire() {
    let s = Setup::with_env(&[("KEYGATE_CODE_TTL", "1")]).await;
    let door = s.path();
    let b = s.browser();
    let (code, verifier) = code_at(&b, &door).await;
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM grants WHERE code_expires_at - created_at = 1")
            .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = s.exchange(&door, &code, &verifier).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_pkce_and_the_request() {
    let s = Setup::new().await;
    let second = "http://127.0.0.1:9/second";
    for door in s.doors() {
        let tenant = door.tenant;
        let a =
            s.db.client(tenant, CALLBACK, &["--public", "--redirect-uri", second]);
        let other = s.db.client(tenant, CALLBACK, &["--public"]);
        let b = s.browser();
        let (verifier, challenge) = pkce();
        let mut params = request(&a, &challenge);
        params.retain(|(k, _)| *k != "scope");
        params.push(("scope", "openid email"));
        let t0 = now();
        let done = sign_in(&b, &door, &url_with(&door.issuer, "/authorize", &params)).await;
        let t1 = now();
        let door_a = Door {
            name: door.name,
            tenant: door.tenant,
            issuer: door.issuer.clone(),
            client: a.clone(),
            sub: door.sub.clone(),
        };
        let code = assert_code(&done, &door_a, door.name);
        let (other_verifier, _) = pkce();
        let x = |client, redirect, verifier| {
            exchange_as(&s, &door.issuer, &code, client, redirect, verifier)
        };
        let refused = [
            (
                "another client",
                x(&other.id, Some(CALLBACK), Some(&verifier)).await,
                "invalid_grant",
            ),
            (
                "another registered redirect URI",
                x(&a.id, Some(second), Some(&verifier)).await,
                "invalid_grant",
            ),
            (
                "an unregistered redirect URI",
                x(&a.id, Some("https://evil.test/cb"), Some(&verifier)).await,
                "invalid_grant",
            ),
            (
                "no redirect URI",
                x(&a.id, None, Some(&verifier)).await,
                "invalid_request",
            ),
            (
                "another verifier",
                x(&a.id, Some(CALLBACK), Some(&other_verifier)).await,
                "invalid_grant",
            ),
            (
                "the challenge as verifier",
                x(&a.id, Some(CALLBACK), Some(&challenge)).await,
                "invalid_grant",
            ),
            (
                "no verifier",
                x(&a.id, Some(CALLBACK), None).await,
                "invalid_request",
            ),
        ];
        for (what, (status, body), error) in refused {
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some(error)),
                "{} {what}: {body}",
                door.name
            );
        }
        // The refusals did not use the code up; the right exchange works and
        // carries what the request and the sign-in fixed.
        let (status, body) = x(&a.id, Some(CALLBACK), Some(&verifier)).await;
        assert_eq!(status, 200, "{}: {body}", door.name);
        assert_eq!(body["scope"], "openid email");
        assert!(
            body.get("refresh_token").is_none(),
            "offline_access not granted: {body}"
        );
        let id = claims(body["id_token"].as_str().unwrap());
        assert_eq!(id["sub"], door.sub.as_str());
        assert_eq!(id["aud"], a.id.as_str());
        assert_eq!(id["nonce"], "n-456");
        assert_eq!(id["email"], EMAIL);
        assert!(id.get("name").is_none(), "profile not granted: {id}");
        let auth_time = id["auth_time"].as_i64().unwrap();
        assert!(t0 <= auth_time && auth_time <= t1);
    }
}

/// An authorization_code exchange with each part chosen by the caller.
async fn exchange_as(
    s: &Setup,
    issuer: &str,
    code: &str,
    client: &str,
    redirect: Option<&str>,
    verifier: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client),
    ];
    if let Some(r) = redirect {
        form.push(("redirect_uri", r));
    }
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    s.token(issuer, &form).await
}

#[tokio::test]
async fn plain_pkce_works_and_is_the_default_method() {
    let s = Setup::new().await;
    // Public clients need `--pkce plain-allowed` for plain (RFC 9700 2.1.1).
    let door = Door {
        client: s
            .db
            .client("acme", CALLBACK, &["--public", "--pkce", "plain-allowed"]),
        ..s.path()
    };
    let b = s.browser();
    let verifier = keygate_crypto::secrets::random_token(32);
    for method in [Some("plain"), None] {
        let mut params: Vec<(&str, &str)> = request(&door.client, &verifier)
            .into_iter()
            .filter(|(k, _)| *k != "code_challenge_method")
            .collect();
        if let Some(m) = method {
            params.push(("code_challenge_method", m));
        }
        let page = b.get(&url_with(&door.issuer, "/authorize", &params)).await;
        let page = if page.status == 200 {
            b.submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
                .await
        } else {
            page
        };
        let code = assert_code(&page, &door, "plain");
        let (status, body) = s.exchange(&door, &code, &format!("{verifier}x")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        s.id_token(&door, &code, &verifier).await;
    }
}

// ---------------------------------------------------------------------------
// Security headers

#[tokio::test]
async fn pages_carry_security_headers() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (_, challenge) = pkce();
        let url = url_with(
            &door.issuer,
            "/authorize",
            &request(&door.client, &challenge),
        );
        let sign_in = b.get(&url).await;
        let register = b.get(&link(&sign_in, "/register")).await;
        let wrong = b
            .submit(
                &sign_in,
                &[("email", EMAIL), ("password", "wrong password")],
            )
            .await;
        let error = b
            .get(&url_with(
                &door.issuer,
                "/authorize",
                &[("client_id", "nope")],
            ))
            .await;
        let signoff = b.get(&format!("{}/signoff", door.issuer)).await;
        let signed_out = b.submit(&signoff, &[]).await;
        for (what, page) in [
            ("sign-in", &sign_in),
            ("registration", &register),
            ("wrong password", &wrong),
            ("error", &error),
            ("sign-out", &signoff),
            ("signed out", &signed_out),
        ] {
            let what = format!("{} {what}", door.name);
            assert!(
                header(page, "content-type").starts_with("text/html"),
                "{what}"
            );
            let csp = header(page, "content-security-policy");
            assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
            assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains("script-src"),
                "{what}: {csp}"
            );
            assert_eq!(header(page, "referrer-policy"), "no-referrer", "{what}");
            assert_eq!(header(page, "x-content-type-options"), "nosniff", "{what}");
            assert_eq!(header(page, "cache-control"), "no-store", "{what}");
            assert!(
                !page.body.contains("<script"),
                "{what}: no JavaScript needed"
            );
        }
    }
}
