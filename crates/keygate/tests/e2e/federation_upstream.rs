//! Federation against a real upstream (docs/federation.md): node
//! oidc-provider, started by `tests/browser/oidc_upstream.mjs`, with one
//! client (Keygate, client_secret_basic), PKCE required and its own
//! development sign-in and consent pages. By HTTP, a cookie-keeping client
//! fills those pages as a browser would; in Chromium,
//! `tests/browser/federation.mjs` clicks through them. Node and `npm ci` in
//! `tests/browser` are required (`.ci/run` installs them): without them the
//! tests fail.

use crate::admin_helpers::{Admin, ADMIN_TOKEN};
use crate::harness::*;
use crate::real_clients::{root, run_script};
use crate::token_helpers::{exchange, userinfo};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// Keygate's client at the upstream.
const UP_CLIENT: &str = "keygate";
const UP_SECRET: &str = "upstream-client-secret-5d2c9a71e04b";
/// The upstream's name at Keygate (on the button, and `connection`).
const NAME: &str = "Upstream";

/// A running oidc_upstream.mjs; killed when dropped.
pub struct Upstream {
    pub issuer: String,
    log: PathBuf,
    _child: tokio::process::Child,
}

impl Upstream {
    /// Starts oidc_upstream.mjs with `config` on `port` (0: any) and waits
    /// for its issuer line. A port chosen in advance that another process
    /// took is waited for, as [`Server`] does.
    pub async fn start(config: &Value, port: u16, log: PathBuf) -> Upstream {
        let dir = root().join("tests/browser");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is missing: run `npm ci` in tests/browser (.ci/run does)"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let err = std::fs::File::create(&log).unwrap();
            let mut child = tokio::process::Command::new("node")
                .arg(dir.join("oidc_upstream.mjs"))
                .arg(config.to_string())
                .arg(port.to_string())
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(err))
                .kill_on_drop(true)
                .spawn()
                .expect("node runs (install Node.js; .ci/run expects it)");
            let stdout = child.stdout.take().unwrap();
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("oidc_upstream.mjs listens within 20 s")
                .unwrap();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            match first {
                Some(line) => {
                    // Nothing more is expected on stdout; drained all the same.
                    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("oidc_upstream.mjs printed {line} ({e})"));
                    return Upstream {
                        issuer: v["issuer"].as_str().unwrap().to_string(),
                        log,
                        _child: child,
                    };
                }
                None if text.contains("EADDRINUSE") && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => panic!("oidc_upstream.mjs exited before listening:\n{text}"),
            }
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The upstream's people: accountId (its `sub`, typed as the login) -> claims.
fn accounts() -> Value {
    json!({
        "ann-up": {"email": "ann.up@example.org", "email_verified": true, "name": "Ann Upstream"},
        "bob-up": {"email": "bob.up@example.org", "email_verified": false, "name": "Bob Upstream"},
        "cat-up": {"email": LOCAL_EMAIL, "email_verified": true, "name": "Cat Upstream"},
    })
}

/// A local account whose e-mail the upstream's `cat-up` also has.
const LOCAL_EMAIL: &str = "cat@example.com";
const LOCAL_PASSWORD: &str = "cat's own long password";

/// Keygate with tenant `acme`, a local account (`cat`), a confidential
/// client, and the upstream registered both ways.
struct Fed {
    db: Database,
    server: Server,
    issuer: String,
    admin: Admin,
    client: TestClient,
    upstream: Upstream,
    idp_id: String,
    local_sub: String,
}

impl Fed {
    async fn new() -> Fed {
        Fed::with_client("http://127.0.0.1:9/callback").await
    }

    async fn with_client(redirect_uri: &str) -> Fed {
        let db = Database::new();
        db.tenant("acme", &[]);
        let local_sub = db.user("acme", LOCAL_EMAIL, LOCAL_PASSWORD);
        let client = db.client("acme", redirect_uri, &[]);
        let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
        let issuer = server.issuer("acme");
        let admin = Admin::new(&server, Some(ADMIN_TOKEN));
        // The upstream's address is chosen first: Keygate is told its
        // issuer, and it is told Keygate's callback URIs.
        let port = free_port();
        let created = admin
            .post(
                "/tenants/acme/idps",
                json!({
                    "name": NAME,
                    "issuer": format!("http://127.0.0.1:{port}"),
                    "client_id": UP_CLIENT,
                    "client_secret": UP_SECRET,
                }),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert!(
            created.body.get("client_secret").is_none(),
            "{}",
            created.body
        );
        let idp_id = created.body["id"].as_str().unwrap().to_string();
        let callbacks = created.body["callback_uris"].clone();
        let ours = format!("{issuer}/federation/{idp_id}/callback");
        assert!(
            callbacks.as_array().unwrap().iter().any(|c| *c == ours),
            "{}",
            created.body
        );
        let config = json!({
            "client": {"client_id": UP_CLIENT, "client_secret": UP_SECRET, "redirect_uris": callbacks},
            "accounts": accounts(),
        });
        let upstream = Upstream::start(&config, port, db.dir.join("upstream.log")).await;
        assert_eq!(upstream.issuer, format!("http://127.0.0.1:{port}"));
        Fed {
            db,
            server,
            issuer,
            admin,
            client,
            upstream,
            idp_id,
            local_sub,
        }
    }

    /// Both logs, for a failed assertion.
    fn logs(&self) -> String {
        format!(
            "keygate:\n{}\nupstream:\n{}",
            self.server.log_text(),
            self.upstream.log_text()
        )
    }

    /// The tenant's people, by the admin API.
    async fn user_count(&self) -> usize {
        let list = self.admin.get("/tenants/acme/users?limit=100").await;
        assert_eq!(list.status, 200, "{}", list.body);
        list.body["items"].as_array().unwrap().len()
    }

    async fn identity_count(&self) -> i64 {
        self.db
            .count("SELECT COUNT(*) FROM federated_identities")
            .await
    }

    fn authorize(&self, extra: &[(&str, &str)]) -> String {
        authorize_url(&self.issuer, &self.client, None, extra)
    }

    /// Whether `location` is the client's redirect URI.
    fn at_client(&self, location: &str) -> bool {
        location.starts_with(&format!("{}?", self.client.redirect_uri))
    }

    /// Follows redirects from `page` until a page is shown or the browser
    /// is sent to the client.
    async fn follow(&self, b: &Browser, page: Page) -> Page {
        self.follow_until(b, page, |l| self.at_client(l)).await
    }

    /// Follows redirects from `page` until a page is shown or a redirect
    /// goes where `stop` says.
    async fn follow_until(&self, b: &Browser, mut page: Page, stop: impl Fn(&str) -> bool) -> Page {
        for _ in 0..20 {
            let Some(location) = page
                .location()
                .filter(|_| (300..400).contains(&page.status))
            else {
                return page;
            };
            if stop(&location) {
                return page;
            }
            let next = url::Url::parse(&page.url).unwrap().join(&location).unwrap();
            page = b.get(next.as_str()).await;
        }
        panic!("more than 20 redirects: {}", self.logs());
    }

    /// Goes to `url` and through the upstream's pages as `account` (its
    /// sign-in form, then its consent form, each when it is shown): the
    /// first answer that is not the upstream's (a redirect to the client,
    /// or a Keygate page).
    async fn through_upstream(&self, b: &Browser, url: &str, account: &str) -> Page {
        self.through_upstream_until(b, url, account, |l| self.at_client(l))
            .await
    }

    /// [`Fed::through_upstream`], stopping at a redirect where `stop` says.
    async fn through_upstream_until(
        &self,
        b: &Browser,
        url: &str,
        account: &str,
        stop: impl Fn(&str) -> bool,
    ) -> Page {
        let mut page = self.follow_until(b, b.get(url).await, &stop).await;
        for _ in 0..4 {
            if !page.url.starts_with(&format!("{}/", self.upstream.issuer)) || page.status != 200 {
                return page;
            }
            let submitted = if page.body.contains("name=\"login\"") {
                b.submit(&page, &[("login", account), ("password", "anything")])
                    .await
            } else if page.body.contains("value=\"consent\"") {
                b.submit(&page, &[]).await
            } else {
                panic!(
                    "an unexpected upstream page: {}\n{}",
                    page.body,
                    self.logs()
                );
            };
            page = self.follow_until(b, submitted, &stop).await;
        }
        panic!("the upstream's pages did not end: {}", self.logs());
    }

    /// The code of a redirect to the client (with the request's state).
    fn code(&self, page: &Page) -> String {
        assert_eq!(page.status, 303, "{}\n{}", page.body, self.logs());
        let location = page.location().unwrap();
        assert!(self.at_client(&location), "{location}");
        let params = page.redirect_params();
        assert_eq!(params["state"], "st-123", "{params:?}");
        assert_eq!(params["iss"], self.issuer, "{params:?}");
        params
            .get("code")
            .unwrap_or_else(|| panic!("no code: {params:?}\n{}", self.logs()))
            .clone()
    }

    /// The tokens for a code: the token response, the id_token's claims and
    /// the userinfo answer.
    async fn tokens(&self, code: &str) -> (Value, Value, Value) {
        let tokens = exchange(&self.issuer, &self.client, code, None)
            .await
            .tokens();
        let id = claims(tokens["id_token"].as_str().unwrap());
        let info = userinfo(&self.issuer, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info.status, 200, "{}", info.text);
        (tokens, id, info.json)
    }

    /// Signs in through the upstream as `account` in a new browser: the
    /// id_token's claims and the userinfo answer.
    async fn sign_in(&self, url: &str, account: &str) -> (Value, Value) {
        let b = Browser::new();
        let done = self.through_upstream(&b, url, account).await;
        let (_, id, info) = self.tokens(&self.code(&done)).await;
        (id, info)
    }
}

fn amr(id: &Value) -> Vec<&str> {
    id["amr"]
        .as_array()
        .unwrap_or_else(|| panic!("no amr: {id}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// The href of the sign-in page's link whose text is `text`.
fn link_to(page: &Page, text: &str) -> String {
    let end = page
        .body
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link '{text}': {}", page.body));
    let start = page.body[..end].rfind("<a ").unwrap();
    let tag = &page.body[start..end];
    let i = tag.find("href=\"").unwrap() + 6;
    let j = tag[i..].find('"').unwrap() + i;
    unescape(&tag[i..j])
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn a_first_sign_in_through_a_real_upstream_creates_the_person_and_the_next_signs_them_in() {
    let f = Fed::new().await;
    assert_eq!(f.user_count().await, 1);

    // The sign-in page offers the upstream; the person follows its link.
    let b = Browser::new();
    let page = b.get(&f.authorize(&[])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = link_to(&page, &format!("Continue with {NAME}"));
    assert!(
        start.starts_with(&format!("{}/federation/{}/start?", f.issuer, f.idp_id)),
        "{start}"
    );
    let done = f.through_upstream(&b, &start, "ann-up").await;
    let (_, id, info) = f.tokens(&f.code(&done)).await;
    let sub = id["sub"].as_str().unwrap().to_string();
    assert_ne!(sub, f.local_sub);
    assert!(amr(&id).contains(&"fed"), "{id}");
    assert_eq!(id["email"], "ann.up@example.org", "{id}");
    assert_eq!(id["email_verified"], true, "{id}");
    assert_eq!(id["name"], "Ann Upstream", "{id}");
    assert_eq!(info["sub"], sub.as_str(), "{info}");
    assert_eq!(info["email"], "ann.up@example.org", "{info}");
    assert_eq!(info["email_verified"], true, "{info}");
    assert_eq!(info["name"], "Ann Upstream", "{info}");
    assert_eq!(f.user_count().await, 2, "{}", f.logs());
    let linked = f
        .db
        .query_strings(&format!(
            "SELECT issuer || ' ' || subject || ' ' || user_sub FROM federated_identities WHERE idp_id = '{}'",
            f.idp_id
        ))
        .await;
    assert_eq!(
        linked,
        [format!("{} ann-up {sub}", f.upstream.issuer)],
        "{linked:?}"
    );

    // Again, in a new browser, by idp_hint and by connection: the same
    // person, nobody new.
    for extra in [("idp_hint", f.idp_id.as_str()), ("connection", NAME)] {
        let (id, info) = f.sign_in(&f.authorize(&[extra]), "ann-up").await;
        assert_eq!(id["sub"], sub.as_str(), "{extra:?}: {id}");
        assert_eq!(info["sub"], sub.as_str(), "{extra:?}: {info}");
        assert!(amr(&id).contains(&"fed"), "{id}");
    }
    assert_eq!(f.user_count().await, 2, "{}", f.logs());
    assert_eq!(f.identity_count().await, 1);
    // The client secret is sealed at rest and never logged.
    let stored =
        f.db.query_strings("SELECT client_secret_sealed FROM upstream_idps")
            .await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(UP_SECRET));
    assert!(!f.server.log_text().contains(UP_SECRET));
}

#[tokio::test]
async fn an_address_the_upstream_did_not_verify_is_not_verified_at_keygate() {
    let f = Fed::new().await;
    let (id, info) = f
        .sign_in(&f.authorize(&[("connection", NAME)]), "bob-up")
        .await;
    assert!(amr(&id).contains(&"fed"), "{id}");
    assert_eq!(id["email"], "bob.up@example.org", "{id}");
    assert_eq!(id["email_verified"], false, "{id}");
    assert_eq!(info["email"], "bob.up@example.org", "{info}");
    assert_eq!(info["email_verified"], false, "{info}");
    assert_eq!(info["name"], "Bob Upstream", "{info}");
    let user = f
        .admin
        .get(&format!(
            "/tenants/acme/users/{}",
            id["sub"].as_str().unwrap()
        ))
        .await;
    assert_eq!(user.status, 200, "{}", user.body);
    assert_eq!(user.body["email"], "bob.up@example.org");
    assert_eq!(user.body["email_verified"], false);
}

#[tokio::test]
async fn connection_and_idp_hint_go_straight_to_the_upstream_with_state_nonce_and_pkce() {
    let f = Fed::new().await;
    let discovery: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        f.upstream.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let endpoint = discovery["authorization_endpoint"].as_str().unwrap();
    let mut states = Vec::new();
    for extra in [("connection", NAME), ("idp_hint", f.idp_id.as_str())] {
        let b = Browser::new();
        let page = b.get(&f.authorize(&[extra])).await;
        assert_eq!(page.status, 303, "{extra:?}: {}", page.body);
        let location = page.location().unwrap();
        assert!(
            location.starts_with(&format!("{endpoint}?")),
            "{extra:?}: {location}"
        );
        assert!(
            page.headers.get("set-cookie").is_some(),
            "{extra:?}: no cookie binds the trip to the browser"
        );
        let q = query(&location);
        assert_eq!(q["client_id"], UP_CLIENT, "{q:?}");
        assert_eq!(q["response_type"], "code", "{q:?}");
        assert_eq!(
            q["redirect_uri"],
            format!("{}/federation/{}/callback", f.issuer, f.idp_id)
        );
        assert_eq!(q["code_challenge_method"], "S256", "{q:?}");
        assert_eq!(q["code_challenge"].len(), 43, "{q:?}");
        assert!(q["state"].len() >= 22, "{q:?}");
        assert!(q["nonce"].len() >= 22, "{q:?}");
        assert_ne!(
            q["state"], "st-123",
            "the client's state is not sent upstream"
        );
        let scopes: Vec<&str> = q["scope"].split(' ').collect();
        assert!(scopes.contains(&"openid"), "{q:?}");
        states.push(q["state"].clone());
    }
    assert_ne!(states[0], states[1]);
}

#[tokio::test]
async fn a_local_account_with_the_same_address_is_linked_only_with_its_password() {
    let f = Fed::new().await;
    let b = Browser::new();
    let page = f
        .through_upstream(&b, &f.authorize(&[("connection", NAME)]), "cat-up")
        .await;
    assert_eq!(page.status, 200, "{}\n{}", page.body, f.logs());
    assert!(
        page.body.contains(&format!("Link your {NAME} account")),
        "{}",
        page.body
    );
    let (action, fields) = page.form();
    assert_eq!(action, format!("{}/federation/link", f.issuer));
    let email = fields.iter().find(|(n, _)| n == "email").map(|(_, v)| v);
    assert_eq!(email.map(String::as_str), Some(LOCAL_EMAIL), "{fields:?}");
    assert!(fields.iter().any(|(n, _)| n == "password"), "{fields:?}");
    assert_eq!(f.identity_count().await, 0);

    // A wrong password shows the page again and links nothing.
    let wrong = b.submit(&page, &[("password", "not cat's password")]).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(
        wrong.body.contains(&format!("Link your {NAME} account")),
        "{}",
        wrong.body
    );
    assert_eq!(f.identity_count().await, 0);
    assert_eq!(f.user_count().await, 1);

    // The right one links them and signs in as the local account.
    let linked = b.submit(&wrong, &[("password", LOCAL_PASSWORD)]).await;
    let (_, id, info) = f.tokens(&f.code(&linked)).await;
    assert_eq!(id["sub"], f.local_sub.as_str(), "{id}");
    assert_eq!(info["sub"], f.local_sub.as_str(), "{info}");
    let methods = amr(&id);
    assert!(methods.contains(&"fed") && methods.contains(&"pwd"), "{id}");
    assert_eq!(f.identity_count().await, 1);
    assert_eq!(f.user_count().await, 1);

    // From now on the upstream alone signs in as the local account.
    let (id, _) = f
        .sign_in(&f.authorize(&[("idp_hint", &f.idp_id)]), "cat-up")
        .await;
    assert_eq!(id["sub"], f.local_sub.as_str(), "{id}");
    assert!(amr(&id).contains(&"fed"), "{id}");
    assert_eq!(f.user_count().await, 1);
    assert_eq!(f.identity_count().await, 1);
}

#[tokio::test]
async fn cancelling_at_the_upstream_sends_access_denied_to_the_client_and_creates_nobody() {
    let f = Fed::new().await;
    let b = Browser::new();
    // Signed in at the upstream, the person cancels on its consent page.
    let mut page = f
        .follow(&b, b.get(&f.authorize(&[("connection", NAME)])).await)
        .await;
    assert!(page.body.contains("name=\"login\""), "{}", page.body);
    page = f
        .follow(
            &b,
            b.submit(&page, &[("login", "ann-up"), ("password", "x")])
                .await,
        )
        .await;
    assert!(page.body.contains("value=\"consent\""), "{}", page.body);
    let abort = format!("{}/abort", page.url.trim_end_matches('/'));
    assert!(page.body.contains(&abort), "{}", page.body);
    let done = f.follow(&b, b.get(&abort).await).await;
    assert_eq!(done.status, 303, "{}\n{}", done.body, f.logs());
    assert!(f.at_client(&done.location().unwrap()));
    let params = done.redirect_params();
    assert_eq!(params["error"], "access_denied", "{params:?}");
    assert_eq!(params["state"], "st-123", "{params:?}");
    assert!(!params.contains_key("code"), "{params:?}");
    assert_eq!(f.user_count().await, 1);
    assert_eq!(f.identity_count().await, 0);
}

#[tokio::test]
async fn a_person_signs_in_through_the_upstream_in_chromium_as_the_same_person_each_time() {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let f = Fed::with_client(&callback).await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&f.issuer, &f.client, Some(&challenge), &[]);
    let steps = run_script(
        "federation.mjs",
        &[
            ("KEYGATE_AUTHORIZE_URL", &url),
            ("KEYGATE_CALLBACK", &callback),
            ("KEYGATE_IDP_NAME", NAME),
            ("UPSTREAM_ISSUER", &f.upstream.issuer),
            ("UPSTREAM_LOGIN", "ann-up"),
        ],
        &f.server,
    )
    .await;
    assert_eq!(steps.len(), 2, "{steps:?}");
    let mut subs = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        assert_eq!(step["step"], format!("run{}", n + 1), "{step}");
        let q = &step["query"];
        assert_eq!(q["state"], "st-123", "{step}");
        assert_eq!(q["iss"], f.issuer.as_str(), "{step}");
        // The upstream's pages were shown: its sign-in form, then consent
        // (the first time; a new browser context each run).
        let pages: Vec<&str> = step["upstream_pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(pages, ["login", "consent"], "{step}");
        let code = q["code"].as_str().unwrap();
        let tokens = exchange(&f.issuer, &f.client, code, Some(&verifier))
            .await
            .tokens();
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert!(amr(&id).contains(&"fed"), "{id}");
        assert_eq!(id["email"], "ann.up@example.org", "{id}");
        subs.push(id["sub"].as_str().unwrap().to_string());
    }
    assert_eq!(
        subs[0], subs[1],
        "the same upstream account is the same person"
    );
    assert_ne!(subs[0], f.local_sub);
    assert_eq!(f.user_count().await, 2);
    assert_eq!(f.identity_count().await, 1);
}

/// An error page of Keygate's: HTML, with the status.
fn assert_error_page(f: &Fed, page: &Page, status: u16) {
    assert_eq!(page.status, status, "{}\n{}", page.body, f.logs());
    let ct = page.headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(page.location().is_none(), "{:?}", page.location());
}

#[tokio::test]
async fn a_foreign_replayed_or_unknown_callback_ends_on_an_error_page_and_creates_nobody() {
    let f = Fed::new().await;
    let callback = format!("{}/federation/{}/callback", f.issuer, f.idp_id);
    let to_keygate = |l: &str| l.starts_with(&format!("{callback}?"));
    // The person's browser goes through the upstream; the way back to
    // Keygate is taken by another browser, which lacks the trip's cookie.
    let a = Browser::new();
    let back = f
        .through_upstream_until(
            &a,
            &f.authorize(&[("connection", NAME)]),
            "ann-up",
            to_keygate,
        )
        .await;
    let return_url = back
        .location()
        .filter(|l| to_keygate(l))
        .unwrap_or_else(|| panic!("not sent back to Keygate: {}\n{}", back.body, f.logs()));
    assert!(query(&return_url).contains_key("code"), "{return_url}");
    let other = Browser::new();
    assert_error_page(&f, &other.get(&return_url).await, 400);
    assert_eq!(f.user_count().await, 1);
    assert_eq!(f.identity_count().await, 0);

    // A state Keygate never issued.
    let unknown = format!("{callback}?code=abc&state=not-a-state-of-keygate-0123456789");
    assert_error_page(&f, &a.get(&unknown).await, 400);
    assert_eq!(f.user_count().await, 1);

    // A trip completed once cannot be replayed. (The trip above was
    // refused, so this browser has no session at Keygate yet.)
    let done = f
        .through_upstream_until(
            &a,
            &f.authorize(&[("connection", NAME)]),
            "ann-up",
            to_keygate,
        )
        .await;
    let return_url = done
        .location()
        .filter(|l| to_keygate(l))
        .unwrap_or_else(|| panic!("not sent back to Keygate: {}\n{}", done.body, f.logs()));
    let signed_in = f.follow(&a, a.get(&return_url).await).await;
    f.code(&signed_in);
    assert_eq!(f.user_count().await, 2);
    assert_error_page(&f, &a.get(&return_url).await, 400);
    assert_eq!(f.user_count().await, 2);
    assert_eq!(f.identity_count().await, 1);
    let log = f.server.log_text();
    assert!(
        !log.contains("panicked") && !log.contains(UP_SECRET),
        "{log}"
    );
}

#[tokio::test]
async fn an_upstream_that_cannot_be_reached_ends_on_an_error_page_within_seconds() {
    let f = Fed::new().await;
    // One that accepts connections (the kernel's backlog) and never
    // answers, and one where nothing listens.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_issuer = format!("http://{}", silent.local_addr().unwrap());
    let down_issuer = format!("http://127.0.0.1:{}", free_port());
    for (name, issuer) in [("Silent", &silent_issuer), ("Down", &down_issuer)] {
        let created = f
            .admin
            .post(
                "/tenants/acme/idps",
                json!({"name": name, "issuer": issuer, "client_id": "x", "client_secret": "y"}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let b = Browser::new();
        let started = Instant::now();
        let page = b.get(&f.authorize(&[("connection", name)])).await;
        let took = started.elapsed();
        assert_error_page(&f, &page, 502);
        assert!(page.body.contains(name), "{name}: {}", page.body);
        assert!(took < Duration::from_secs(7), "{name}: {took:?}");
    }
    assert_eq!(f.user_count().await, 1);
    drop(silent);
}
