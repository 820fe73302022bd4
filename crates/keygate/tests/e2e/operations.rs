//! Operations: key rotation, health, metrics, request ids, JSON
//! logs, the sweeper, graceful shutdown.

use crate::harness::*;
use serde_json::Value;
use std::time::Duration;

async fn jwks_kids(issuer: &str) -> Vec<String> {
    let v: Value = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn cc_token(issuer: &str, c: &TestClient) -> String {
    let (s, _, body) = token(
        issuer,
        Some((&c.id, c.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn introspect_active(issuer: &str, c: &TestClient, t: &str) -> bool {
    let r: Value = reqwest::Client::new()
        .post(format!("{issuer}/introspect"))
        .basic_auth(&c.id, Some(c.secret()))
        .form(&[("token", t)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["active"] == true
}

#[tokio::test]
async fn key_rotation_publishes_before_signing_and_keeps_the_old_key() {
    let w = World::new().await;
    let c = w.confidential_client(&["--grant", "client_credentials"]);
    let old_token = cc_token(&w.issuer, &c).await;
    let old_kid = header(&old_token)["kid"].as_str().unwrap().to_string();
    assert_eq!(jwks_kids(&w.issuer).await, vec![old_kid.clone()]);

    let out = w.db.cli_json(
        &["keys", "rotate", "--tenant", "acme", "--lead-time", "8s"],
        None,
    );
    let new_kid = out["kid"].as_str().unwrap().to_string();
    let activates_at = out["activates_at"].as_i64().unwrap();
    assert_eq!(out["retiring"][0]["kid"], old_kid.as_str());
    // The old key stays published for the longest token lifetime (14 days by default).
    assert_eq!(
        out["retiring"][0]["retires_at"].as_i64().unwrap(),
        activates_at + 14 * 86400
    );

    // Published within the cache bound, while tokens are still signed by the old key.
    let deadline = std::time::Instant::now() + Duration::from_secs(7);
    loop {
        let kids = jwks_kids(&w.issuer).await;
        if kids.contains(&new_kid) {
            assert!(kids.contains(&old_kid));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new key not published"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let during = cc_token(&w.issuer, &c).await;
    assert_eq!(
        header(&during)["kid"],
        old_kid.as_str(),
        "a key signs nothing before its lead time"
    );

    // After activation (plus the cache bound) the new key signs; old tokens still verify.
    let now = keygate_server::now();
    tokio::time::sleep(Duration::from_secs((activates_at - now).max(0) as u64 + 6)).await;
    let after = cc_token(&w.issuer, &c).await;
    assert_eq!(header(&after)["kid"], new_kid.as_str());
    assert!(
        introspect_active(&w.issuer, &c, &old_token).await,
        "tokens of the old key stay valid"
    );
    assert!(introspect_active(&w.issuer, &c, &after).await);
    assert!(jwks_kids(&w.issuer).await.contains(&old_kid));
}

#[tokio::test]
async fn health_readiness_metrics_and_request_ids() {
    let w = World::new().await;
    let c = w.confidential_client(&["--grant", "client_credentials"]);
    cc_token(&w.issuer, &c).await;
    let http = reqwest::Client::new();
    let base = &w.server.base;
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");

    let r = http
        .get(format!("{base}/acme/as/jwks"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-abc-123");
    let r = http
        .get(format!("{base}/acme/as/jwks"))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["x-request-id"].to_str().unwrap().len() >= 12);

    // A failed and a successful sign-in, counted.
    let browser = Browser::new();
    let client = w.public_client(&[]);
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_url(&w.issuer, &client, Some(&challenge), &[]))
        .await;
    let bad = browser
        .submit(&page, &[("email", EMAIL), ("password", "wrong password")])
        .await;
    assert_eq!(bad.status, 401);

    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("keygate_tokens_issued_total{grant=\"client_credentials\"}"),
        "{text}"
    );
    assert!(
        text.contains(
            "keygate_http_requests_total{endpoint=\"/{tenant}/as/token\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("keygate_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("keygate_signins_total{result=\"failure\"}"),
        "{text}"
    );
    assert!(
        text.contains("keygate_store_duration_seconds_bucket{op=\"user_by_email\""),
        "{text}"
    );
    if !use_postgres() {
        // The SQLite writer's batch sizes are counted in writes, with
        // buckets of their own (not the latency buckets, in seconds).
        assert!(
            text.contains("keygate_store_write_batch_size_bucket{le=\"4\"}"),
            "{text}"
        );
        assert!(
            !text.contains("keygate_store_write_batch_size_bucket{le=\"0.0005\"}"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start_with(&db, &[("KEYGATE_LOG_FORMAT", "json")]).await;
    let r = reqwest::Client::new()
        .get(format!("{}/acme/as/jwks", server.base))
        .header("x-request-id", "req-json-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log_text();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "{log}");
    let request_line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request" && l["span"]["request_id"] == "req-json-1")
        .unwrap_or_else(|| panic!("no request line with the id: {log}"));
    assert_eq!(request_line["fields"]["status"], 200);
    assert_eq!(request_line["fields"]["path"], "/acme/as/jwks");
}

#[tokio::test]
async fn sweeper_deletes_expired_records_in_batches() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(
        &db,
        &[("KEYGATE_SWEEP_INTERVAL", "1"), ("KEYGATE_CODE_TTL", "1")],
    )
    .await;
    let issuer = server.issuer("acme");
    let c = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &[
            "--access-token-ttl",
            "1s",
            "--grant",
            "authorization_code,client_credentials",
        ],
    );
    let browser = Browser::new();
    let _unused_code = obtain_code(&browser, &issuer, &c, None, &[]).await;
    // A 1-second token may expire before its revocation arrives (then there
    // is nothing to revoke): try until one revocation is recorded.
    for _ in 0..5 {
        let at = cc_token(&issuer, &c).await;
        let r = reqwest::Client::new()
            .post(format!("{issuer}/revoke"))
            .basic_auth(&c.id, Some(c.secret()))
            .form(&[("token", at.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        if db.count("SELECT COUNT(*) FROM revoked_jtis").await > 0 {
            break;
        }
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM grants").await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM revoked_jtis").await, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = db.count("SELECT COUNT(*) FROM grants").await
            + db.count("SELECT COUNT(*) FROM revoked_jtis").await;
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired rows were not swept"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("keygate_sweeper_deleted_total{table=\"grants\"}"),
        "{text}"
    );
    assert!(
        text.contains("keygate_sweeper_deleted_total{table=\"revoked_jtis\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_exits_0() {
    let w = World::new().await;
    let mut server = w.server;
    let c = w.db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials"],
    );
    cc_token(&w.issuer, &c).await;
    let issuer = w.issuer.clone();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (issuer, c) = (issuer.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            token(
                &issuer,
                Some((&c.id, c.secret())),
                &[("grant_type", "client_credentials")],
            )
            .await
            .0
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pid = server.pid();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let statuses: Vec<u16> = futures_join(tasks).await;
    // Requests accepted before the signal complete; none is cut off mid-way.
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 0),
        "{statuses:?}"
    );
    let mut child = server.child.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{}", server.log_text());
    assert!(server.log_text().contains("shutting down"));
}

/// Awaits every task; a request refused because the server already stopped
/// accepting counts as 0.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<u16>>) -> Vec<u16> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap_or(0));
    }
    out
}

/// A log reader that stops reading (a stuck collector, a full pipe) must not
/// stop the server: requests are answered while stderr is full.
#[tokio::test]
async fn a_stuck_log_reader_does_not_stop_requests() {
    let db = Database::new();
    let port = free_port();
    let mut child = std::process::Command::new(BIN)
        .arg("serve")
        .env("KEYGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYGATE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_MASTER_KEY", MASTER_KEY)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        // A pipe that is never read: it holds 64 KiB, a few hundred lines.
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keygate serve starts");
    let _unread = child.stderr.take();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while !matches!(http.get(&url).send().await, Ok(r) if r.status() == 200) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // 3,000 request lines are several times what the pipe holds.
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        let mut ok = 0;
        for _ in 0..3000 {
            match http.get(&url).send().await {
                Ok(r) if r.status() == 200 => ok += 1,
                _ => break,
            }
        }
        ok
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready.is_ok(), "the server did not become ready");
    assert_eq!(
        answered.ok(),
        Some(3000),
        "requests stopped once the server's log pipe was full"
    );
}
