//! The README's first command: `serve --dev` creates the demo client and
//! user once and prints what is needed to try a flow; the printed authorize
//! URL ends on the dev server's own callback page, which redeems the code
//! and prints curl commands whose requests work. The page exists only in
//! dev mode.

use crate::harness::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `serve --dev` in the database's temporary folder under
/// `public_url` (default: its own loopback address), returns the printed
/// block and the child.
fn start_dev(db: &Database, port: u16, public_url: Option<&str>) -> (String, std::process::Child) {
    let own = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .args(["serve", "--dev"])
        .current_dir(&db.dir)
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_MASTER_KEY", MASTER_KEY)
        .env("KEYGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYGATE_PUBLIC_URL", public_url.unwrap_or(&own))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        out.push_str(&line);
        out.push('\n');
        if line.contains("-d grant_type=") {
            break;
        }
    }
    (out, child)
}

fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no '{label}' in:\n{out}"))
}

fn authorize_line(out: &str, base: &str) -> String {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{base}/authorize?")))
        .unwrap_or_else(|| panic!("no authorize URL in:\n{out}"))
        .to_string()
}

/// GETs `url` until the freshly started server answers 200.
async fn get_ready(browser: &Browser, url: &str) -> Page {
    let mut page = browser.get(url).await;
    for _ in 0..50 {
        if page.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = browser.get(url).await;
    }
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

/// The unescaped text of the page's element with this `id`.
fn element(page: &Page, id: &str) -> String {
    let open = format!("id=\"{id}\">");
    let start = page
        .body
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in: {}", page.body))
        + open.len();
    let end = page.body[start..].find("</").unwrap() + start;
    unescape(&page.body[start..end])
}

/// Splits a shell command as a POSIX shell would, for the commands the
/// page prints: single quotes, `'\''` inside them, line continuations.
fn shell_words(cmd: &str) -> Vec<String> {
    let cmd = cmd.replace("\\\n", " ");
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    word.get_or_insert_with(String::new).push(n);
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Sends the request of a printed `curl -s [-X POST] URL [-u ID:SECRET]
/// [-H HEADER]... [-d NAME=VALUE]...` command; its status and JSON.
async fn run_curl(cmd: &str) -> (u16, serde_json::Value) {
    let words = shell_words(cmd);
    assert_eq!(words[0], "curl", "{cmd}");
    let (mut method, mut url, mut user, mut headers, mut form) =
        ("GET", None, None, Vec::new(), Vec::new());
    let mut it = words[1..].iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-s" => {}
            "-X" => {
                assert_eq!(it.next().unwrap(), "POST", "{cmd}");
                method = "POST";
            }
            "-u" => user = Some(it.next().unwrap().clone()),
            "-H" => headers.push(it.next().unwrap().clone()),
            "-d" => {
                let (k, v) = it.next().unwrap().split_once('=').unwrap();
                form.push((k.to_string(), v.to_string()));
                method = "POST";
            }
            u if u.starts_with("http") => url = Some(u.to_string()),
            other => panic!("unexpected '{other}' in {cmd}"),
        }
    }
    let http = reqwest::Client::new();
    let url = url.unwrap_or_else(|| panic!("no URL in {cmd}"));
    let mut req = match method {
        "POST" => http.post(&url).form(&form),
        _ => http.get(&url),
    };
    if let Some(u) = user {
        let (id, secret) = u.split_once(':').unwrap();
        req = req.basic_auth(id, Some(secret));
    }
    for h in headers {
        let (k, v) = h.split_once(": ").unwrap();
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn serve_dev_signs_in_to_its_own_callback_page_whose_curl_commands_work() {
    let db = Database::new();
    let port = free_port();
    let (out, mut child) = start_dev(&db, port, None);
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/dev/callback");
    assert_eq!(field(&out, "issuer:"), base);
    let client_id = field(&out, "client_id:");
    let secret = field(&out, "client_secret:");
    let email = field(&out, "user e-mail:");
    let password = field(&out, "user password:");
    let authorize = authorize_line(&out, &base);
    let params: std::collections::HashMap<String, String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(params["redirect_uri"], callback);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(out.contains(&format!("You land on {callback}")), "{out}");

    // The printed client_credentials command works as printed.
    let cc = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl ") && l.contains("grant_type=client_credentials"))
        .unwrap_or_else(|| panic!("no client_credentials curl in:\n{out}"));
    assert!(
        cc.starts_with(&format!(
            "curl -s -X POST '{base}/token' -u '{client_id}:{secret}'"
        )),
        "{cc}"
    );

    // Follow the printed URL as a browser would, sign in with the printed
    // credentials, and follow the redirect to the callback page.
    let browser = Browser::new();
    let page = get_ready(&browser, &authorize).await;
    let (s, _) = run_curl(cc).await;
    assert_eq!(s, 200, "{cc}");
    let done = browser
        .submit(&page, &[("email", &email), ("password", &password)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let loc = done.location().unwrap();
    assert!(loc.starts_with(&format!("{callback}?code=")), "{loc}");
    let landed = browser.get(&loc).await;
    assert_eq!(landed.status, 200, "{}", landed.body);

    // The hosted pages' strict policy: no script, the one hashed stylesheet.
    let csp = landed.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-") && !csp.contains("script"),
        "{csp}"
    );
    assert!(!landed.body.contains("<script"), "{}", landed.body);
    assert_eq!(element(&landed, "code"), done.redirect_params()["code"]);
    assert_eq!(element(&landed, "state"), params["state"]);

    // Both tokens decoded: the id_token is the demo user's, for the demo
    // client, with the printed URL's nonce; the access token's claims agree.
    let sub = db
        .query_strings("SELECT sub FROM users WHERE email = 'demo@keygate.test'")
        .await
        .remove(0);
    let json = |id: &str| -> serde_json::Value {
        serde_json::from_str(&element(&landed, id)).unwrap_or_else(|e| panic!("#{id}: {e}"))
    };
    let id_header = json("id_token-header");
    let id_claims = json("id_token-payload");
    assert_eq!(id_header["alg"], "RS256", "{id_header}");
    assert_eq!(id_claims["sub"], sub.as_str(), "{id_claims}");
    assert_eq!(id_claims["aud"], client_id.as_str(), "{id_claims}");
    assert_eq!(id_claims["iss"], base.as_str(), "{id_claims}");
    assert_eq!(id_claims["nonce"], "demo-nonce", "{id_claims}");
    assert_eq!(json("access_token-header")["typ"], "at+jwt");
    let at_claims = json("access_token-payload");
    assert_eq!(at_claims["sub"], sub.as_str(), "{at_claims}");
    assert_eq!(at_claims["iss"], base.as_str(), "{at_claims}");
    assert_eq!(json("token-response")["token_type"], "Bearer");

    // The printed commands' requests work as printed.
    let userinfo = element(&landed, "userinfo-curl");
    let (s, info) = run_curl(&userinfo).await;
    assert_eq!(s, 200, "{userinfo}: {info}");
    assert_eq!(info["sub"], sub.as_str(), "{info}");
    let refresh = element(&landed, "refresh-curl");
    assert!(
        refresh.starts_with(&format!(
            "curl -s -X POST '{base}/token' -u '{client_id}:{secret}'"
        )),
        "{refresh}"
    );
    let (s, t) = run_curl(&refresh).await;
    assert_eq!(s, 200, "{refresh}: {t}");
    assert!(
        t["access_token"].is_string() && t["refresh_token"].is_string(),
        "{t}"
    );
    assert!(element(&landed, "exchange-curl").contains("code_verifier="));

    // Reloading replays the spent code: refused, and said so.
    let again = browser.get(&loc).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("invalid_grant"), "{}", again.body);

    // Whatever arrives is shown as text, and without a good code the page
    // tells nothing but the token endpoint's error (not the secret).
    let hostile = browser
        .get(&format!(
            "{callback}?code=%3Cb%3Ex&state=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ))
        .await;
    assert_eq!(hostile.status, 400, "{}", hostile.body);
    assert!(
        !hostile.body.contains("<script") && !hostile.body.contains("<b>"),
        "{}",
        hostile.body
    );
    assert_eq!(element(&hostile, "state"), "<script>alert(1)</script>");
    assert!(!hostile.body.contains(&secret), "{}", hostile.body);
    let denied = browser
        .get(&format!(
            "{callback}?error=access_denied&error_description=%3Ci%3Eno&state=s"
        ))
        .await;
    assert_eq!(denied.status, 400, "{}", denied.body);
    assert!(
        denied.body.contains("access_denied") && !denied.body.contains("<i>"),
        "{}",
        denied.body
    );
    let _ = child.kill();
    let _ = child.wait();

    // Demo data of an older version: the client knows only the old
    // redirect URI. A start adds the callback (and keeps the old one), and
    // creates nothing new.
    sqlx_exec(
        &db,
        "UPDATE clients SET redirect_uris = '[\"http://localhost:3000/callback\"]'",
    )
    .await;
    let port2 = free_port();
    let (out2, mut child2) = start_dev(&db, port2, None);
    let base2 = format!("http://127.0.0.1:{port2}");
    assert_eq!(field(&out2, "client_id:"), client_id);
    assert_eq!(field(&out2, "client_secret:"), secret);
    assert_eq!(field(&out2, "user password:"), password);
    let uris = db.query_strings("SELECT redirect_uris FROM clients").await;
    assert_eq!(
        uris,
        [format!(
            "[\"{base2}/dev/callback\",\"http://localhost:3000/callback\"]"
        )]
    );
    let browser = Browser::new();
    let page = get_ready(&browser, &authorize_line(&out2, &base2)).await;
    let done = browser
        .submit(&page, &[("email", &email), ("password", &password)])
        .await;
    let loc = done.location().unwrap();
    assert!(
        loc.starts_with(&format!("{base2}/dev/callback?code=")),
        "{loc}"
    );
    assert_eq!(browser.get(&loc).await.status, 200);
    let _ = child2.kill();
    let _ = child2.wait();
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM users").await, 1);
}

async fn sqlx_exec(db: &Database, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn the_dev_callback_page_is_not_routed_without_dev() {
    let db = Database::new();
    let server = Server::start(&db).await;
    let r = reqwest::get(format!("{}/dev/callback?code=x&state=y", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// A plain http public URL on a host that is not loopback cannot carry the
/// callback (http redirect URIs only on loopback hosts): the copy-the-code
/// instructions, true as printed, and no page.
#[tokio::test]
async fn serve_dev_on_a_non_loopback_http_url_keeps_the_copy_the_code_flow() {
    let db = Database::new();
    let port = free_port();
    let public = format!("http://keygate.internal:{port}");
    let (out, mut child) = start_dev(&db, port, Some(&public));
    let authorize = authorize_line(&out, &public);
    assert!(
        authorize.contains("redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback"),
        "{authorize}"
    );
    assert!(out.contains("No callback page"), "{out}");
    // The browser reaches the public URL's host on this machine.
    let browser = Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("keygate.internal", ([127, 0, 0, 1], port).into())
            .build()
            .unwrap(),
    };
    let own = format!("http://127.0.0.1:{port}");
    let page = get_ready(&browser, &authorize).await;
    let done = browser
        .submit(
            &page,
            &[
                ("email", &field(&out, "user e-mail:")),
                ("password", &field(&out, "user password:")),
            ],
        )
        .await;
    let code = done.redirect_params()["code"].clone();
    let (s, _, t) = token(
        &own,
        Some((&field(&out, "client_id:"), &field(&out, "client_secret:"))),
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://localhost:3000/callback"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        reqwest::get(format!("{own}/dev/callback?code=x&state=y"))
            .await
            .unwrap()
            .status(),
        404
    );
    let _ = child.kill();
    let _ = child.wait();
}
