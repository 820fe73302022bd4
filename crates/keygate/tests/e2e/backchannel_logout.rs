//! OpenID Connect Back-Channel Logout 1.0 (docs/logout.md): id_tokens carry
//! the session's `sid`; when the session ends (sign-out, "sign out
//! everywhere", an admin disabling the person) every client that got tokens
//! from it and registered `--backchannel-logout-uri` receives a signed
//! logout token, retried until its receiver answers. The receivers are
//! small HTTP servers this test starts on 127.0.0.1, which is why the
//! server runs with KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS.

use crate::harness::*;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// One POST a receiver got.
#[derive(Debug, Clone)]
struct Post {
    path: String,
    content_type: String,
    body: String,
}

impl Post {
    /// The `logout_token` form field.
    fn logout_token(&self) -> String {
        url::form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no logout_token in {:?}", self.body))
    }
}

/// A client's back-channel logout endpoint: records every request and
/// answers 200.
struct Receiver {
    url: String,
    posts: Arc<Mutex<Vec<Post>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener)
    }

    fn on(listener: tokio::net::TcpListener) -> Receiver {
        let url = format!(
            "http://127.0.0.1:{}/backchannel",
            listener.local_addr().unwrap().port()
        );
        let posts = Arc::new(Mutex::new(Vec::new()));
        let kept = posts.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let kept = kept.clone();
                tokio::spawn(async move {
                    if let Some(post) = read_request(&mut sock).await {
                        kept.lock().unwrap().push(post);
                    }
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Receiver { url, posts, task }
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// Waits (at most `secs`) until `n` posts arrived; returns them.
    async fn wait_for(&self, n: usize, secs: u64) -> Vec<Post> {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let posts = self.posts();
            if posts.len() >= n || Instant::now() > until {
                return posts;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes).
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Post> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut words = head.split(' ');
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    assert_eq!(method, "POST", "a logout token is POSTed");
    Some(Post {
        path,
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&buf[head_end..]).to_string(),
    })
}

/// A database with tenant `acme`, its person, and a server allowed to
/// reach 127.0.0.1.
async fn setup() -> (Database, Server, String, String) {
    let db = Database::new();
    db.tenant("acme", &[]);
    let sub = db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let issuer = server.issuer("acme");
    (db, server, issuer, sub)
}

/// Signs in with `browser` (or uses its session) for `client` asking
/// `scope`, and exchanges the code: the token response.
async fn tokens(browser: &Browser, issuer: &str, client: &TestClient, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let page = browser.get(u.as_str()).await;
    let done = if page.status == 200 {
        browser
            .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await
    } else {
        page
    };
    assert_eq!(done.status, 303, "no redirect: {}", done.body);
    let code = done.redirect_params()["code"].clone();
    let (status, _, body) = token(
        issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(issuer: &str, client: &TestClient, refresh_token: &str) -> (u16, Value) {
    let (status, _, body) = token(
        issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    (status, body)
}

/// Verifies a logout token against the tenant's published JWKS and checks
/// its claims (Back-Channel Logout 2.4); returns them.
async fn verified_logout_token(issuer: &str, token: &str, client: &TestClient, sub: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| keygate_crypto::keys::VerifyingKey::from_jwk(k).unwrap())
        .collect();
    let (header, claims) = keygate_crypto::jws::verify::<Value>(token, &keys)
        .unwrap_or_else(|e| panic!("the logout token does not verify with the JWKS: {e:?}"));
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(header.alg, "RS256", "the client's algorithm");
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["events"], serde_json::json!({ EVENT: {} }));
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 60..=now + 5).contains(&iat), "iat {iat} now {now}");
    assert!(exp > now && exp <= iat + 300, "exp {exp}");
    claims
}

fn sid_of(id_token: &Value) -> String {
    claims(id_token.as_str().expect("an id_token"))["sid"]
        .as_str()
        .expect("the id_token carries sid")
        .to_string()
}

#[tokio::test]
async fn sign_out_posts_a_verified_logout_token_with_the_id_tokens_sid() {
    let (db, server, issuer, sub) = setup().await;
    let receiver = Receiver::start().await;
    let other = Receiver::start().await;
    let told = db.client(
        "acme",
        CALLBACK,
        &[
            "--backchannel-logout-uri",
            &receiver.url,
            "--refresh-tokens",
            "always",
        ],
    );
    // Its URI is registered after it got its tokens: the URI as registered
    // when the logout is delivered counts.
    let kept = db.client("acme", CALLBACK, &[]);
    let untold = db.client("acme", CALLBACK, &[]);

    let b = Browser::new();
    // No offline_access: its refresh token ends with the session.
    let a = tokens(&b, &issuer, &told, "openid email").await;
    let sid = sid_of(&a["id_token"]);
    assert!(sid.len() >= 16, "an opaque sid: {sid}");
    // Another client signed in with the same session gets the same sid.
    let k = tokens(&b, &issuer, &kept, "openid email offline_access").await;
    assert_eq!(sid_of(&k["id_token"]), sid);
    let u = tokens(&b, &issuer, &untold, "openid email").await;
    assert_eq!(sid_of(&u["id_token"]), sid);
    // A refreshed id_token carries the sid too.
    let (status, ra) = refresh(&issuer, &told, a["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{ra}");
    assert_eq!(sid_of(&ra["id_token"]), sid);
    // The sid is drawn apart from the session's cookie (stored as its hash).
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE sid = '{sid}' AND id_hash <> '{sid}'"
        ))
        .await,
        1
    );
    db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &kept.id,
            "--backchannel-logout-uri",
            &other.url,
        ],
        None,
    );
    // Discovery says so (Back-Channel Logout 2.1).
    let d: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);

    // RP-initiated sign-out with the id_token as hint: no confirmation.
    let out = b
        .get(&format!(
            "{issuer}/signoff?id_token_hint={}",
            ra["id_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("signed out"), "{}", out.body);

    let posts = receiver.wait_for(1, 20).await;
    assert_eq!(posts.len(), 1, "one logout token for the one session");
    let post = &posts[0];
    assert_eq!(post.path, "/backchannel");
    assert_eq!(post.content_type, "application/x-www-form-urlencoded");
    let token = post.logout_token();
    let claims = verified_logout_token(&issuer, &token, &told, &sub).await;
    assert_eq!(claims["sid"], sid.as_str(), "the sid of the id_tokens");
    let to_other = other.wait_for(1, 20).await;
    assert_eq!(to_other.len(), 1);
    let other_claims =
        verified_logout_token(&issuer, &to_other[0].logout_token(), &kept, &sub).await;
    assert_eq!(other_claims["sid"], sid.as_str());
    assert_ne!(other_claims["jti"], claims["jti"]);
    // The client without a URI was told nothing, and nothing is queued for it.
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM backchannel_logouts WHERE client_id = '{}'",
            untold.id
        ))
        .await,
        0
    );
    // Delivered once, recorded as such; nothing more arrives.
    let until = Instant::now() + Duration::from_secs(10);
    while db
        .count("SELECT COUNT(*) FROM backchannel_logouts WHERE outcome = 'delivered'")
        .await
        < 2
    {
        assert!(Instant::now() < until, "the deliveries were not recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.posts().len(), 1);

    // Refresh tokens: without offline_access revoked with the session, with
    // it kept (Back-Channel Logout 2.7).
    let (status, body) = refresh(&issuer, &told, ra["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = refresh(&issuer, &kept, k["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // The token never reaches a log line.
    assert!(!server.log_text().contains(&token));
}

#[tokio::test]
async fn sign_out_everywhere_and_an_admin_disabling_the_person_tell_every_session() {
    let (db, _server, issuer, sub) = setup().await;
    let receiver = Receiver::start().await;
    let client = db.client(
        "acme",
        CALLBACK,
        &["--backchannel-logout-uri", &receiver.url],
    );

    // Two browsers, two sessions, two sids.
    let (b1, b2) = (Browser::new(), Browser::new());
    let s1 = sid_of(&tokens(&b1, &issuer, &client, "openid").await["id_token"]);
    let s2 = sid_of(&tokens(&b2, &issuer, &client, "openid").await["id_token"]);
    assert_ne!(s1, s2);

    // "Sign out everywhere" on the account page of the first browser.
    let page = b1.get(&format!("{issuer}/account")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let ended = crate::account_page::submit_to(&b1, &page, "/account/sessions/end", &[]).await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    let posts = receiver.wait_for(2, 20).await;
    assert_eq!(posts.len(), 2, "one logout token per session");
    let mut sids = vec![];
    for p in &posts {
        let c = verified_logout_token(&issuer, &p.logout_token(), &client, &sub).await;
        sids.push(c["sid"].as_str().unwrap().to_string());
    }
    sids.sort();
    let mut want = vec![s1, s2];
    want.sort();
    assert_eq!(sids, want);

    // A new session, then an administrator disables the person (the CLI,
    // another process on the same database): its logout comes from the
    // queue, picked up by the server's sender.
    let s3 = sid_of(&tokens(&b2, &issuer, &client, "openid").await["id_token"]);
    db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &sub,
            "--disabled",
            "true",
        ],
        None,
    );
    let posts = receiver.wait_for(3, 30).await;
    assert_eq!(posts.len(), 3, "the disabled person's session is told");
    let c = verified_logout_token(&issuer, &posts[2].logout_token(), &client, &sub).await;
    assert_eq!(c["sid"], s3.as_str());
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_logout_token_once_it_is_up() {
    let (db, _server, issuer, sub) = setup().await;
    // Nothing listens on this port yet.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/backchannel");
    let client = db.client("acme", CALLBACK, &["--backchannel-logout-uri", &url]);
    let b = Browser::new();
    let sid = sid_of(&tokens(&b, &issuer, &client, "openid").await["id_token"]);
    let page = b.get(&format!("{issuer}/signoff")).await;
    let out = b.submit(&page, &[]).await;
    assert_eq!(out.status, 200, "{}", out.body);

    // The first attempt fails (connection refused) and is due again later.
    let until = Instant::now() + Duration::from_secs(20);
    while db
        .count("SELECT COUNT(*) FROM backchannel_logouts WHERE attempts >= 1 AND finished_at IS NULL AND claim IS NULL")
        .await
        < 1
    {
        assert!(Instant::now() < until, "no failed attempt was recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The receiver comes up; the retry (10 s after the failure) reaches it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let receiver = Receiver::on(listener);
    let posts = receiver.wait_for(1, 40).await;
    assert_eq!(posts.len(), 1, "the logout was retried");
    let c = verified_logout_token(&issuer, &posts[0].logout_token(), &client, &sub).await;
    assert_eq!(c["sid"], sid.as_str());
}

#[tokio::test]
async fn a_backchannel_logout_uri_must_be_https_or_loopback_http_without_fragment() {
    let db = Database::new();
    db.tenant("acme", &[]);
    for bad in [
        "http://app.example.com/logout",
        "https://app.example.com/logout#x",
        "ftp://app.example.com/logout",
        "not a url",
    ] {
        let out = db.cli(
            &[
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "App",
                "--redirect-uri",
                CALLBACK,
                "--backchannel-logout-uri",
                bad,
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("back-channel logout URI"), "{bad}: {err}");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, 0);
    let c = db.client(
        "acme",
        CALLBACK,
        &["--backchannel-logout-uri", "https://app.example.com/bc?x=1"],
    );
    let shown = db.cli_json(&["client", "show", "--tenant", "acme", &c.id], None);
    assert_eq!(
        shown["backchannel_logout_uri"],
        "https://app.example.com/bc?x=1"
    );
    let shown = db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &c.id,
            "--no-backchannel-logout-uri",
        ],
        None,
    );
    assert!(shown["backchannel_logout_uri"].is_null(), "{shown}");
}

#[tokio::test]
async fn the_admin_api_and_client_registration_take_a_backchannel_logout_uri() {
    use crate::admin_helpers::{Admin, ADMIN_TOKEN};
    let db = Database::new();
    db.tenant("acme", &[]);
    db.cli_json(
        &["tenant", "update", "acme", "--dynamic-registration", "open"],
        None,
    );
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));

    // The admin API: set, refuse a bad one (nothing changes), remove.
    let made = admin
        .post(
            "/tenants/acme/clients",
            serde_json::json!({"name": "App", "redirect_uris": [CALLBACK],
                "backchannel_logout_uri": "https://app.example.com/bc"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(
        made.body["backchannel_logout_uri"],
        "https://app.example.com/bc"
    );
    let path = format!(
        "/tenants/acme/clients/{}",
        made.body["client_id"].as_str().unwrap()
    );
    let bad = admin
        .patch(
            &path,
            serde_json::json!({"backchannel_logout_uri": "http://app.example.com/bc"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["error_description"]
            .as_str()
            .unwrap()
            .contains("back-channel logout URI"),
        "{}",
        bad.body
    );
    assert_eq!(
        admin.get(&path).await.body["backchannel_logout_uri"],
        "https://app.example.com/bc"
    );
    let removed = admin
        .patch(&path, serde_json::json!({"backchannel_logout_uri": null}))
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(
        removed.body.get("backchannel_logout_uri").is_none(),
        "{}",
        removed.body
    );

    // RFC 7591 registration metadata (Back-Channel Logout 2.2).
    let register = |body: Value| {
        let url = format!("{}/oauth/register", server.issuer("acme"));
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = register(serde_json::json!({
        "redirect_uris": [CALLBACK],
        "backchannel_logout_uri": "https://rp.example.com/bc",
        "backchannel_logout_session_required": true
    }))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["backchannel_logout_uri"], "https://rp.example.com/bc");
    assert_eq!(body["backchannel_logout_session_required"], true);
    for bad in [
        serde_json::json!({"redirect_uris": [CALLBACK], "backchannel_logout_uri": "https://rp.example.com/bc#f"}),
        serde_json::json!({"redirect_uris": [CALLBACK], "backchannel_logout_uri": "https://rp.example.com/bc",
            "backchannel_logout_session_required": "yes"}),
    ] {
        let (status, body) = register(bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{body}"
        );
    }
    // One client from the admin API, one registered: the refused ones wrote nothing.
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, 2);
}
