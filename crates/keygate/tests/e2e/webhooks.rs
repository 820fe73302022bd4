//! Webhooks (docs/webhooks.md): a tenant's audit events POSTed as JSON,
//! signed per the Standard Webhooks specification, retried until the
//! receiver answers 2xx, with the same `webhook-id` on every attempt. The
//! receivers are small HTTP servers this test starts on 127.0.0.1 (hence
//! KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS); they check each signature with
//! the secret printed at creation, recomputing the HMAC themselves.

use crate::admin_helpers::{Admin, ADMIN_TOKEN};
use crate::harness::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One POST a receiver got.
#[derive(Debug, Clone)]
struct Post {
    headers: Vec<(String, String)>,
    body: String,
    /// What the receiver answered.
    answered: u16,
}

impl Post {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    /// Checks the signature as a Standard Webhooks receiver does: the key
    /// is the secret's base64 after `whsec_`; the signed content is
    /// `{id}.{timestamp}.{body}`.
    fn verify(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("whsec_ secret"))
            .expect("base64 key");
        let signed = format!(
            "{}.{}.{}",
            self.header("webhook-id"),
            self.header("webhook-timestamp"),
            self.body
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
        let expected = STANDARD.encode(aws_lc_rs::hmac::sign(&key, signed.as_bytes()).as_ref());
        self.header("webhook-signature")
            .split(' ')
            .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook endpoint: records every request, and answers 500 to the first
/// `failures` of them and 200 after.
struct Receiver {
    url: String,
    posts: Arc<Mutex<Vec<Post>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/hook",
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
                    let Some((headers, body)) = read_request(&mut sock).await else {
                        return;
                    };
                    let answered = {
                        let mut posts = kept.lock().unwrap();
                        let answered = if posts.len() < failures { 500 } else { 200 };
                        posts.push(Post {
                            headers,
                            body,
                            answered,
                        });
                        answered
                    };
                    let reply = if answered == 200 {
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    } else {
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    };
                    let _ = sock.write_all(reply.as_bytes()).await;
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

/// Reads one HTTP/1.1 POST: its headers and body.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(Vec<(String, String)>, String)> {
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
    assert!(head.starts_with("POST /hook "), "{head}");
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_lowercase(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((
        headers,
        String::from_utf8_lossy(&buf[head_end..]).to_string(),
    ))
}

/// A failed sign-in at the hosted page: records `user.sign_in_failed`.
async fn wrong_password(issuer: &str, client: &TestClient) {
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_url(issuer, client, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = browser
        .submit(&page, &[("email", EMAIL), ("password", "not the password")])
        .await;
    assert_eq!(done.status, 401, "{}", done.body);
}

/// The delivery log by the CLI, waiting (at most 20 s) for `ready`.
async fn log_until(db: &Database, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let log = db.cli_json(
            &["webhook", "deliveries", "--tenant", "acme", "--id", id],
            None,
        );
        if ready(&log) || Instant::now() > until {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_signed_retried_with_one_id_and_only_to_subscribers() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(
        &db,
        &[
            ("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true"),
            ("KEYGATE_WEBHOOK_RETRY_BASE", "1"),
            ("KEYGATE_WEBHOOK_POLL_INTERVAL", "1"),
            ("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN),
        ],
    )
    .await;
    let issuer = server.issuer("acme");
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);

    // A webhook for failed sign-ins, by the CLI: {"id", "secret"} only.
    let failing = Receiver::start(2).await;
    let created = db.cli_json(
        &[
            "webhook",
            "create",
            "--tenant",
            "acme",
            "--url",
            &failing.url,
            "--event",
            "user.sign_in_failed",
        ],
        None,
    );
    let obj = created.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        STANDARD.decode(&secret["whsec_".len()..]).unwrap().len(),
        32
    );
    // Another, by the admin API, for another type: it gets nothing here.
    let other = Receiver::start(0).await;
    let a = admin
        .post(
            "/tenants/acme/webhooks",
            json!({"url": other.url, "events": ["user.registered"]}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let other_id = a.body["id"].as_str().unwrap().to_string();
    assert!(a.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        a.headers["location"].to_str().unwrap(),
        format!("/admin/v1/tenants/acme/webhooks/{other_id}")
    );

    let before = keygate_server::now();
    wrong_password(&issuer, &client).await;

    // 500, 500, then 200: three attempts, one message id, each signed.
    let posts = failing.wait_for(3, 30).await;
    assert_eq!(posts.len(), 3, "{posts:?}");
    let answered: Vec<u16> = posts.iter().map(|p| p.answered).collect();
    assert_eq!(answered, [500, 500, 200]);
    let msg_id = posts[0].header("webhook-id");
    assert!(msg_id.starts_with("msg_"), "{msg_id}");
    for p in &posts {
        assert_eq!(p.header("webhook-id"), msg_id);
        assert!(p.header("content-type").starts_with("application/json"));
        assert!(p.verify(&secret), "signature does not verify: {p:?}");
        assert!(!p.verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
        let ts: i64 = p.header("webhook-timestamp").parse().unwrap();
        assert!(
            (before - 5..=keygate_server::now() + 5).contains(&ts),
            "{ts}"
        );
        assert!(!p.body.contains(PASSWORD) && !p.body.contains("not the password"));
        assert!(!p.body.contains(EMAIL), "{}", p.body);
    }
    let body = posts[2].json();
    assert_eq!(body["type"], "user.sign_in_failed");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["data"]["type"], "user.sign_in_failed");
    assert_eq!(body["data"]["tenant"], "acme");
    assert_eq!(body["data"]["ip"], "127.0.0.1");
    assert_eq!(body["data"]["detail"]["reason"], "invalid_credentials");
    assert!(body["data"]["id"].as_str().is_some_and(|s| !s.is_empty()));

    // The log, by the CLI and the admin API: delivered at the third attempt.
    let log = log_until(&db, &id, |l| l["deliveries"][0]["status"] == "delivered").await;
    let d = &log["deliveries"][0];
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(d["id"], msg_id.as_str());
    assert_eq!(d["status"], "delivered", "{log}");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["last_status"], 200);
    assert_eq!(d["event_type"], "user.sign_in_failed");
    assert_eq!(d["event_id"], body["data"]["id"]);
    let a = admin
        .get(&format!("/tenants/acme/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["deliveries"][0]["status"], "delivered");
    assert_eq!(a.body["deliveries"][0]["attempts"], 3);

    // The other type's webhook got nothing, and logs nothing.
    assert!(other.posts().is_empty());
    let a = admin
        .get(&format!("/tenants/acme/webhooks/{other_id}/deliveries"))
        .await;
    assert_eq!(a.body["deliveries"], json!([]));

    // Listed and read without their secrets.
    let listed = db.cli_json(&["webhook", "list", "--tenant", "acme"], None);
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 2, "{listed}");
    let mine = listed["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["url"], failing.url.as_str());
    assert_eq!(mine["events"], json!(["user.sign_in_failed"]));
    assert_eq!(mine["tenant"], "acme");
    let a = admin.get(&format!("/tenants/acme/webhooks/{id}")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["url"], failing.url.as_str());
    for text in [listed.to_string(), a.body.to_string(), server.log_text()] {
        assert!(
            !text.contains(&secret["whsec_".len()..]),
            "the secret leaked"
        );
    }

    // Deleted: nothing more is delivered to it.
    let gone = db.cli_json(
        &["webhook", "delete", "--tenant", "acme", "--id", &id],
        None,
    );
    assert_eq!(gone, json!({"deleted": true}));
    // The CLI's changes are audit events of their own (actor cli).
    assert_eq!(
        db.query_strings(&format!(
            "SELECT kind || ' ' || actor FROM events WHERE subject = 'webhook:{id}' ORDER BY id"
        ))
        .await,
        vec!["admin.created cli", "admin.deleted cli"]
    );
    wrong_password(&issuer, &client).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(failing.posts().len(), 3);
    let out = db.cli(
        &["webhook", "deliveries", "--tenant", "acme", "--id", &id],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let a = admin.get(&format!("/tenants/acme/webhooks/{id}")).await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(other.posts().is_empty());
    let a = admin
        .delete(&format!("/tenants/acme/webhooks/{other_id}"))
        .await;
    assert_eq!(a.status, 204);
}

#[tokio::test]
async fn a_webhook_with_a_bad_url_or_event_type_is_refused_and_nothing_is_written() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));
    for (args, says) in [
        (vec!["--url", "http://hooks.example.com/in"], "loopback"),
        (vec!["--url", "https://hooks.example.com/#x"], "fragment"),
        (vec!["--url", "not a url"], "--url"),
        (
            vec![
                "--url",
                "https://hooks.example.com/in",
                "--event",
                "user.nope",
            ],
            "unknown event type 'user.nope'",
        ),
    ] {
        let mut full = vec!["webhook", "create", "--tenant", "acme"];
        full.extend(args.iter());
        let out = db.cli(&full, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = db.cli(
        &[
            "webhook",
            "create",
            "--tenant",
            "nope",
            "--url",
            "https://hooks.example.com/in",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(db.count("SELECT COUNT(*) FROM webhooks").await, 0);

    for body in [
        json!({"url": "http://hooks.example.com/in"}),
        json!({"url": "https://hooks.example.com/in", "events": ["nope"]}),
        json!({"url": 5}),
        json!({"url": "https://hooks.example.com/in", "secret": "mine"}),
    ] {
        let a = admin.post("/tenants/acme/webhooks", body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert!(a.body["error"].is_string(), "{}", a.body);
    }
    let a = admin
        .post(
            "/tenants/nope/webhooks",
            json!({"url": "https://hooks.example.com/in"}),
        )
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(
        admin.get("/tenants/acme/webhooks/wh_nope").await.status,
        404
    );
    assert_eq!(
        admin
            .get("/tenants/acme/webhooks/wh_nope/deliveries")
            .await
            .status,
        404
    );
    assert_eq!(
        admin.delete("/tenants/acme/webhooks/wh_nope").await.status,
        404
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM webhooks").await, 0);
    // Without a token: 401.
    let anon = Admin::new(&server, None);
    assert_eq!(anon.get("/tenants/acme/webhooks").await.status, 401);
}

/// Any node delivers: node A records the event and its sender, woken by
/// it, usually makes the first attempt, which fails; A then looks at the
/// queue only hourly, so the retry is claimed and delivered by node B,
/// which polls every second (whichever node made the first attempt, only
/// B can make the second). One message id throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_delivered_by_another_node() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let receiver = Receiver::start(1).await;
    // Only the failed sign-in: the webhook's own creation is an event too.
    let created = db.cli_json(
        &[
            "webhook",
            "create",
            "--tenant",
            "acme",
            "--url",
            &receiver.url,
            "--event",
            "user.sign_in_failed",
        ],
        None,
    );
    let secret = created["secret"].as_str().unwrap().to_string();
    let common = [
        ("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true"),
        ("KEYGATE_WEBHOOK_RETRY_BASE", "1"),
    ];
    let mut env_a = common.to_vec();
    env_a.push(("KEYGATE_WEBHOOK_POLL_INTERVAL", "3600"));
    let mut env_b = common.to_vec();
    env_b.push(("KEYGATE_WEBHOOK_POLL_INTERVAL", "1"));
    let a = Server::start_with(&db, &env_a).await;
    // B starts once A's first poll is over, so only B finds the retry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = Server::start_behind(&db, &a.base, &env_b).await;

    wrong_password(&a.issuer("acme"), &client).await;
    let posts = receiver.wait_for(2, 30).await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(
        posts.iter().map(|p| p.answered).collect::<Vec<_>>(),
        [500, 200]
    );
    assert_eq!(posts[0].header("webhook-id"), posts[1].header("webhook-id"));
    assert!(posts.iter().all(|p| p.verify(&secret)));
    let id = created["id"].as_str().unwrap();
    let log = log_until(&db, id, |l| l["deliveries"][0]["status"] == "delivered").await;
    assert_eq!(log["deliveries"][0]["attempts"], 2, "{log}");
    // Give the logs a moment to reach the files.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        b.log_text().contains("webhook delivered"),
        "{}",
        b.log_text()
    );
    assert!(!a.log_text().contains("webhook delivered"));
    // Delivered once: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.posts().len(), 2);
}

/// An endpoint that does not answer: the log shows the attempts, no
/// status, why, and when the next attempt is due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_of_an_unreachable_endpoint_shows_pending_attempts_and_why() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    // A port nothing listens on.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = db.cli_json(
        &["webhook", "create", "--tenant", "acme", "--url", &url],
        None,
    );
    let id = created["id"].as_str().unwrap();
    let server = Server::start_with(
        &db,
        &[
            ("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true"),
            ("KEYGATE_WEBHOOK_RETRY_BASE", "1"),
            ("KEYGATE_WEBHOOK_POLL_INTERVAL", "1"),
        ],
    )
    .await;
    wrong_password(&server.issuer("acme"), &client).await;
    let log = log_until(&db, id, |l| {
        l["deliveries"][0]["attempts"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    let d = &log["deliveries"][0];
    assert_eq!(d["status"], "pending", "{log}");
    assert!(d["attempts"].as_i64().unwrap() >= 2, "{log}");
    assert_eq!(d["last_status"], Value::Null);
    assert!(
        d["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{log}"
    );
    assert!(d["next_attempt_at"].as_i64().is_some(), "{log}");
    assert_eq!(d["delivered_at"], Value::Null);
}
