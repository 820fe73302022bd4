//! Several stateless `keygate serve` processes on one database.
//!
//! Each test starts two real nodes on one database, as a load balancer
//! deployment runs them: node B is started with node A's public URL, so both
//! answer for the same issuers and Host, and a request may land on either.
//! On PostgreSQL (`KEYGATE_TEST_DATABASE=postgres`) that is the many-node
//! deployment; on SQLite it is two processes on one file, which is also
//! supported (admin commands and servers share one file; WAL and a busy
//! timeout serialize the writers), so the same tests run on both stores.

use crate::harness::*;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Two nodes on one database, one issuer, a confidential client and a person.
struct Deployment {
    db: Database,
    a: Server,
    b: Server,
    client: TestClient,
    /// The shared issuer of tenant `acme`.
    issuer: String,
}

impl Deployment {
    async fn new() -> Deployment {
        let db = Database::new();
        db.tenant("acme", &[]);
        db.user("acme", EMAIL, PASSWORD);
        let client = db.client("acme", "http://127.0.0.1:9/callback", &[]);
        let a = Server::start(&db).await;
        let b = Server::start_behind(&db, &a.base, &[]).await;
        let issuer = a.issuer("acme");
        assert_eq!(b.issuer("acme"), issuer);
        Deployment {
            db,
            a,
            b,
            client,
            issuer,
        }
    }

    fn basic(&self) -> Option<(&str, &str)> {
        Some((&self.client.id, self.client.secret()))
    }

    /// Node A's or B's path door of `acme` (where requests are sent).
    fn at(&self, node: usize) -> String {
        [&self.a, &self.b][node % 2].endpoint("acme")
    }

    async fn exchange(&self, node: usize, code: &str) -> (u16, Value) {
        let (s, _, body) = token(
            &self.at(node),
            self.basic(),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.client.redirect_uri),
            ],
        )
        .await;
        (s, body)
    }

    async fn introspect(&self, node: usize, token: &str) -> Value {
        introspect(&self.at(node), &self.client, token).await
    }
}

async fn introspect(endpoint: &str, client: &TestClient, token: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{endpoint}/introspect"))
        .header(
            "authorization",
            keygate_core::basic::encode_basic(&client.id, client.secret()),
        )
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn userinfo(endpoint: &str, access_token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{endpoint}/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Checks a JWT's RS256 signature against a JWKS document on our own
/// (aws-lc-rs from `n` and `e`), independently of the server's verifier.
fn signed_by(jwt: &str, jwks: &Value) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let kid = header(jwt)["kid"].as_str().unwrap().to_string();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
    else {
        return false;
    };
    let (signed, sig) = jwt.rsplit_once('.').unwrap();
    let comps = aws_lc_rs::rsa::PublicKeyComponents {
        n: b64.decode(jwk["n"].as_str().unwrap()).unwrap(),
        e: b64.decode(jwk["e"].as_str().unwrap()).unwrap(),
    };
    comps
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &b64.decode(sig).unwrap(),
        )
        .is_ok()
}

/// Fires `n` requests at once (released together by a barrier), spread
/// over both nodes; returns each answer's status and error.
async fn at_once(
    d: &Deployment,
    n: usize,
    form: Vec<(&'static str, String)>,
) -> Vec<(u16, Option<String>, Value)> {
    let http = reqwest::Client::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let auth = keygate_core::basic::encode_basic(&d.client.id, d.client.secret());
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, barrier, auth, form) =
            (http.clone(), barrier.clone(), auth.clone(), form.clone());
        let url = format!("{}/token", d.at(i));
        tasks.push(tokio::spawn(async move {
            let req = http.post(url).header("authorization", auth).form(&form);
            barrier.wait().await;
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body["error"].as_str().map(str::to_string), body)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Exactly one success; every other answer is 400 invalid_grant.
fn one_winner(answers: &[(u16, Option<String>, Value)]) -> Value {
    let wins: Vec<&Value> = answers
        .iter()
        .filter(|a| a.0 == 200)
        .map(|a| &a.2)
        .collect();
    let mut others: HashMap<(u16, Option<String>), usize> = HashMap::new();
    for a in answers.iter().filter(|a| a.0 != 200) {
        *others.entry((a.0, a.1.clone())).or_default() += 1;
    }
    assert_eq!(
        wins.len(),
        1,
        "successes: {}; the rest: {others:?}",
        wins.len()
    );
    assert_eq!(
        others,
        HashMap::from([((400, Some("invalid_grant".to_string())), answers.len() - 1)]),
        "every loser is invalid_grant"
    );
    wins[0].clone()
}

#[tokio::test]
async fn a_code_obtained_through_one_node_is_redeemed_at_the_other() {
    let d = Deployment::new().await;
    let browser = Browser::new();
    // Signed in through A; the code is redeemed at B.
    let code = obtain_code(&browser, &d.at(0), &d.client, None, &[]).await;
    let (s, t) = d.exchange(1, &code).await;
    assert_eq!(s, 200, "{t}");
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], d.issuer.as_str());
    assert_eq!(id["nonce"], "n-456");
    // ...and its refresh token rotates at A, then at B.
    let mut refresh = t["refresh_token"].as_str().unwrap().to_string();
    for node in [0, 1] {
        let (s, _, t) = token(
            &d.at(node),
            d.basic(),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(s, 200, "refresh at node {node}: {t}");
        refresh = t["refresh_token"].as_str().unwrap().to_string();
    }
    // The session begun at A is known at B: B's /authorize issues a code
    // without asking for the password again, and A redeems it, once.
    let page = browser
        .get(&authorize_url(&d.at(1), &d.client, None, &[]))
        .await;
    assert_eq!(
        page.status, 303,
        "B does not see A's session: {}",
        page.body
    );
    let code = page.redirect_params()["code"].clone();
    let (s, t) = d.exchange(0, &code).await;
    assert_eq!(s, 200, "{t}");
    let (s, t) = d.exchange(1, &code).await;
    assert_eq!(
        (s, t["error"].as_str()),
        (400, Some("invalid_grant")),
        "reused at the other node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_redemptions_of_one_code_over_two_nodes_succeed_once() {
    let d = Deployment::new().await;
    let code = obtain_code(&Browser::new(), &d.at(0), &d.client, None, &[]).await;
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", d.client.redirect_uri.clone()),
    ];
    let winner = one_winner(&at_once(&d, 40, form).await);
    assert!(winner["access_token"].as_str().is_some());
    // One refresh token was stored, by the winner's transaction.
    assert_eq!(d.db.count("SELECT COUNT(*) FROM refresh_tokens").await, 1);
    // The replays revoked the grant: the winner's tokens are dead on both nodes.
    for node in [0, 1] {
        for t in ["access_token", "refresh_token"] {
            let v = d.introspect(node, winner[t].as_str().unwrap()).await;
            assert_eq!(
                v["active"], false,
                "{t} at node {node} after a replayed code"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_uses_of_one_refresh_token_over_two_nodes_rotate_once() {
    let d = Deployment::new().await;
    let code = obtain_code(&Browser::new(), &d.at(0), &d.client, None, &[]).await;
    let (s, t) = d.exchange(1, &code).await;
    assert_eq!(s, 200, "{t}");
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh.clone()),
    ];
    let winner = one_winner(&at_once(&d, 40, form).await);
    let next = winner["refresh_token"].as_str().unwrap();
    assert_ne!(next, refresh);
    // Exactly one successor was written: the original and one new token.
    assert_eq!(d.db.count("SELECT COUNT(*) FROM refresh_tokens").await, 2);
    assert_eq!(
        d.db.count("SELECT COUNT(*) FROM refresh_tokens WHERE consumed_at IS NULL")
            .await,
        1
    );
    // The reuse revoked the family on every node.
    for node in [0, 1] {
        assert_eq!(d.introspect(node, next).await["active"], false);
    }
}

/// Many different codes, then their refresh tokens, exchanged at the same
/// moment at one node: every one wins (the store consumes waiting exchanges
/// together, and one exchange's loss must never spill onto another's).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_different_exchanges_at_once_all_succeed() {
    let d = Arc::new(Deployment::new().await);
    let browser = Browser::new();
    let mut codes = Vec::new();
    for _ in 0..16 {
        codes.push(obtain_code(&browser, &d.at(0), &d.client, None, &[]).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(codes.len()));
    let tasks: Vec<_> = codes
        .into_iter()
        .map(|code| {
            let (d, barrier) = (d.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                d.exchange(0, &code).await
            })
        })
        .collect();
    let mut refresh = Vec::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        assert_eq!(s, 200, "{body}");
        refresh.push(body["refresh_token"].as_str().unwrap().to_string());
    }
    assert_eq!(d.db.count("SELECT COUNT(*) FROM refresh_tokens").await, 16);
    let barrier = Arc::new(tokio::sync::Barrier::new(refresh.len()));
    let tasks: Vec<_> = refresh
        .iter()
        .cloned()
        .map(|r| {
            let (d, barrier) = (d.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                token(
                    &d.at(0),
                    d.basic(),
                    &[("grant_type", "refresh_token"), ("refresh_token", &r)],
                )
                .await
            })
        })
        .collect();
    let mut next = std::collections::HashSet::new();
    for t in tasks {
        let (s, _, body) = t.await.unwrap();
        assert_eq!(s, 200, "{body}");
        next.insert(body["refresh_token"].as_str().unwrap().to_string());
    }
    assert_eq!(next.len(), 16);
    assert!(refresh.iter().all(|r| !next.contains(r)));
    assert_eq!(d.db.count("SELECT COUNT(*) FROM refresh_tokens").await, 32);
    assert_eq!(
        d.db.count("SELECT COUNT(*) FROM refresh_tokens WHERE consumed_at IS NULL")
            .await,
        16
    );
}

#[tokio::test]
async fn both_nodes_publish_the_same_keys_and_accept_each_others_tokens() {
    let d = Deployment::new().await;
    let browser = Browser::new();
    // Each node mints tokens for a code it issued itself.
    let mut minted = Vec::new();
    for node in [0, 1] {
        let code = obtain_code(&browser, &d.at(node), &d.client, None, &[]).await;
        let (s, t) = d.exchange(node, &code).await;
        assert_eq!(s, 200, "{t}");
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["iss"],
            d.issuer.as_str()
        );
        minted.push(t);
    }

    // The same JWKS at both path doors, and at both root doors (tenant
    // default; the load balancer forwards the public Host).
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        let host = d.a.base.trim_start_matches("http://").to_string();
        async move {
            let r = http.get(url).header("host", host).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let jwks_a = get(format!("{}/jwks", d.at(0))).await;
    let jwks_b = get(format!("{}/jwks", d.at(1))).await;
    assert_eq!(jwks_a, jwks_b);
    let root_a = get(format!("{}/.well-known/jwks.json", d.a.base)).await;
    let root_b = get(format!("{}/.well-known/jwks.json", d.b.base)).await;
    assert_eq!(root_a, root_b);
    let disco = get(format!("{}/.well-known/openid-configuration", d.at(1))).await;
    assert_eq!(disco["issuer"], d.issuer.as_str());

    for (node, t) in minted.iter().enumerate() {
        let other = 1 - node;
        let access = t["access_token"].as_str().unwrap();
        // Signed with a key both nodes publish.
        for jwks in [&jwks_a, &jwks_b] {
            assert!(signed_by(access, jwks));
            assert!(signed_by(t["id_token"].as_str().unwrap(), jwks));
        }
        // The other node's userinfo and introspection accept it.
        let (s, info) = userinfo(&d.at(other), access).await;
        assert_eq!(s, 200, "node {other} refused node {node}'s token: {info}");
        assert_eq!(info["sub"], claims(access)["sub"]);
        let v = d.introspect(other, access).await;
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["iss"], d.issuer.as_str());
        let v = d
            .introspect(other, t["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(v["active"], true, "{v}");
    }

    // A revocation at one node holds at the other at once (it is in the store).
    let access = minted[0]["access_token"].as_str().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/revoke", d.at(1)))
        .header(
            "authorization",
            keygate_core::basic::encode_basic(&d.client.id, d.client.secret()),
        )
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(d.introspect(0, access).await["active"], false);
    assert_eq!(userinfo(&d.at(0), access).await.0, 401);
    let other = minted[1]["access_token"].as_str().unwrap();
    assert_eq!(
        d.introspect(0, other).await["active"],
        true,
        "only that token"
    );
}

#[tokio::test]
async fn nodes_starting_at_once_on_a_fresh_database_migrate_it_once() {
    let db = Database::new();
    let (a, b) = tokio::join!(Server::start(&db), Server::start(&db));
    let versions = db.count("SELECT COUNT(*) FROM keygate_migrations").await;
    let distinct = db
        .count("SELECT COUNT(DISTINCT version) FROM keygate_migrations")
        .await;
    assert!(versions >= 1);
    assert_eq!(versions, distinct);
    for s in [&a, &b] {
        let r = reqwest::get(format!("{}/.well-known/openid-configuration", s.base))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(!s.log_text().contains("panicked"), "{}", s.log_text());
    }
    // The CLI works beside both.
    db.tenant("acme", &[]);
}

/// What the clients of the crash test received, and what they lost.
#[derive(Default)]
struct Ledger {
    /// Access tokens received in a 200.
    access: Vec<String>,
    /// The last refresh token of each chain that was never used again.
    live_refresh: Vec<String>,
    /// Codes answered 200 (used exactly once).
    used_codes: Vec<String>,
    /// Codes whose exchange got no answer (the node died).
    lost_codes: Vec<String>,
    /// Refresh tokens whose use got no answer.
    lost_refresh: Vec<String>,
    /// Anything but 200 or a lost answer.
    unexpected: Vec<String>,
}

/// A code from node B's /authorize for an already signed-in browser.
async fn quick_code(browser: &Browser, endpoint: &str, client: &TestClient) -> Option<String> {
    let r = browser
        .http
        .get(authorize_url(endpoint, client, None, &[]))
        .send()
        .await
        .ok()?;
    let loc = r.headers().get("location")?.to_str().ok()?.to_string();
    url::Url::parse(&loc)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// One token request; `Err` when no answer came back.
async fn try_token(
    http: &reqwest::Client,
    endpoint: &str,
    client: &TestClient,
    form: &[(&str, &str)],
) -> Result<(u16, Value), reqwest::Error> {
    let r = http
        .post(format!("{endpoint}/token"))
        .header(
            "authorization",
            keygate_core::basic::encode_basic(&client.id, client.secret()),
        )
        .form(form)
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.json().await?;
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_stream_loses_nothing_it_answered_and_restarts_cleanly() {
    let mut d = Deployment::new().await;
    let browser = Arc::new(Browser::new());
    // Signed in once (through A); from then on B's /authorize issues codes.
    obtain_code(&browser, &d.at(0), &d.client, None, &[]).await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let nodes = [d.at(0), d.at(1)];
    let mut workers = Vec::new();
    for w in 0..4usize {
        let (browser, ledger, stop, answered) = (
            browser.clone(),
            ledger.clone(),
            stop.clone(),
            answered.clone(),
        );
        let (nodes, client) = (nodes.clone(), d.client.clone());
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut turn = w;
            let mut next_node = || {
                turn += 1;
                nodes[turn % 2].clone()
            };
            while !stop.load(Ordering::SeqCst) {
                let Some(code) = quick_code(&browser, &nodes[1], &client).await else {
                    ledger
                        .lock()
                        .unwrap()
                        .unexpected
                        .push("B issued no code".into());
                    continue;
                };
                let form = [
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", client.redirect_uri.as_str()),
                ];
                let mut refresh = match try_token(&http, &next_node(), &client, &form).await {
                    Ok((200, t)) => {
                        answered.fetch_add(1, Ordering::SeqCst);
                        let mut l = ledger.lock().unwrap();
                        l.used_codes.push(code);
                        l.access.push(t["access_token"].as_str().unwrap().into());
                        t["refresh_token"].as_str().unwrap().to_string()
                    }
                    Ok((s, t)) => {
                        ledger
                            .lock()
                            .unwrap()
                            .unexpected
                            .push(format!("exchange: {s} {t}"));
                        continue;
                    }
                    Err(_) => {
                        ledger.lock().unwrap().lost_codes.push(code);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let mut alive = true;
                for _ in 0..2 {
                    let form = [
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.as_str()),
                    ];
                    match try_token(&http, &next_node(), &client, &form).await {
                        Ok((200, t)) => {
                            answered.fetch_add(1, Ordering::SeqCst);
                            ledger
                                .lock()
                                .unwrap()
                                .access
                                .push(t["access_token"].as_str().unwrap().into());
                            refresh = t["refresh_token"].as_str().unwrap().to_string();
                        }
                        Ok((s, t)) => {
                            ledger
                                .lock()
                                .unwrap()
                                .unexpected
                                .push(format!("refresh: {s} {t}"));
                            alive = false;
                            break;
                        }
                        Err(_) => {
                            ledger.lock().unwrap().lost_refresh.push(refresh.clone());
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            alive = false;
                            break;
                        }
                    }
                }
                if alive {
                    ledger.lock().unwrap().live_refresh.push(refresh);
                }
            }
        }));
    }

    // Kill A with SIGKILL while the stream runs, let the stream hit the dead
    // node for a moment, then start A again on the same port and database.
    let deadline = Instant::now() + Duration::from_secs(10);
    while answered.load(Ordering::SeqCst) < 20 {
        assert!(Instant::now() < deadline, "the stream does not flow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = d.a.pid();
    d.a.stop();
    let at_kill = answered.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.a.restart().await;
    assert_ne!(d.a.pid(), killed);
    let after_restart = answered.load(Ordering::SeqCst);
    while answered.load(Ordering::SeqCst) < after_restart + 20 {
        assert!(
            Instant::now() < deadline,
            "the stream does not flow after the restart"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let l = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(l.unexpected.is_empty(), "{:?}", l.unexpected);
    assert!(at_kill >= 20);
    assert!(
        l.lost_codes.len() + l.lost_refresh.len() > 0,
        "no request met the dead node"
    );

    // Every token a client received is still good, on both nodes.
    for (i, t) in l.access.iter().enumerate() {
        let v = d.introspect(i, t).await;
        assert_eq!(v["active"], true, "access token {i} of {}", l.access.len());
    }
    for (i, t) in l.live_refresh.iter().enumerate() {
        let v = d.introspect(i, t).await;
        assert_eq!(
            v["active"],
            true,
            "refresh token {i} of {}",
            l.live_refresh.len()
        );
    }
    // A consumed code always has the refresh token of the same transaction.
    assert_eq!(
        d.db.count(
            "SELECT COUNT(*) FROM grants g WHERE g.code_consumed_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)"
        )
        .await,
        0,
        "a code was consumed without its tokens being stored"
    );

    // A code or refresh token whose answer was lost worked once or not at
    // all: trying it again succeeds at most once.
    let http = reqwest::Client::new();
    let mut retried = HashMap::<&str, usize>::new();
    for (i, code) in l.lost_codes.iter().enumerate() {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", d.client.redirect_uri.as_str()),
        ];
        let first = try_token(&http, &d.at(i), &d.client, &form).await.unwrap();
        assert!(
            first.0 == 200 || (first.0 == 400 && first.1["error"] == "invalid_grant"),
            "lost code: {first:?}"
        );
        *retried
            .entry(if first.0 == 200 {
                "code never redeemed"
            } else {
                "code redeemed before the kill"
            })
            .or_default() += 1;
        let again = try_token(&http, &d.at(i + 1), &d.client, &form)
            .await
            .unwrap();
        assert_eq!(
            (again.0, again.1["error"].as_str()),
            (400, Some("invalid_grant")),
            "a lost code worked twice"
        );
    }
    for (i, refresh) in l.lost_refresh.iter().enumerate() {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let first = try_token(&http, &d.at(i), &d.client, &form).await.unwrap();
        assert!(
            first.0 == 200 || (first.0 == 400 && first.1["error"] == "invalid_grant"),
            "lost refresh: {first:?}"
        );
        *retried
            .entry(if first.0 == 200 {
                "refresh never used"
            } else {
                "refresh used before the kill"
            })
            .or_default() += 1;
        let again = try_token(&http, &d.at(i + 1), &d.client, &form)
            .await
            .unwrap();
        assert_eq!(
            (again.0, again.1["error"].as_str()),
            (400, Some("invalid_grant")),
            "a lost refresh token worked twice"
        );
    }
    // Codes that were answered never work again.
    for (i, code) in l.used_codes.iter().enumerate() {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", d.client.redirect_uri.as_str()),
        ];
        let again = try_token(&http, &d.at(i), &d.client, &form).await.unwrap();
        assert_eq!(
            (again.0, again.1["error"].as_str()),
            (400, Some("invalid_grant")),
            "an answered code worked twice"
        );
    }
    eprintln!(
        "crash test: {} access tokens, {} used codes, lost {} codes and {} refresh tokens; on retry: {retried:?}",
        l.access.len(),
        l.used_codes.len(),
        l.lost_codes.len(),
        l.lost_refresh.len()
    );

    // Both logs: no panic, no internal error; A started twice.
    for s in [&d.a, &d.b] {
        let log = s.log_text();
        assert!(!log.contains("panicked"), "{log}");
        assert!(!log.contains("internal error"), "{log}");
    }
    assert_eq!(d.a.log_text().matches("keygate is serving").count(), 2);
}

/// A node caches a tenant's key set for up to 5 s, even an empty one; a token
/// whose `kid` the cached set lacks makes it reload the set (at most every
/// 5 ms), so it accepts at once a key another node created meanwhile.
#[tokio::test]
async fn a_node_that_saw_no_keys_yet_accepts_the_first_key_another_node_created() {
    let d = Deployment::new().await;
    let (s, _) = userinfo(&d.at(1), "eyJhbGciOiJSUzI1NiJ9.e30.AAAA").await;
    assert_eq!(s, 401);
    let code = obtain_code(&Browser::new(), &d.at(0), &d.client, None, &[]).await;
    let (s, t) = d.exchange(0, &code).await;
    assert_eq!(s, 200, "{t}");
    let (s, info) = userinfo(&d.at(1), t["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{info}");
}
