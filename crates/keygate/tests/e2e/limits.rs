//! Limits that hold against an attacker: sign-in attempts reserved in the
//! store before the password is checked (so parallel guesses cannot slip
//! past the limit), registration per IP, work per request bounded and linear
//! in its size, and nothing unauthenticated that grows the store or memory.

use crate::harness::*;
use serde_json::{json, Value};

/// Sends `n` Journeys API sign-ins at once; returns their statuses.
async fn parallel_sign_ins(
    issuer: &str,
    api: &TestClient,
    attempts: Vec<(String, String)>,
) -> Vec<u16> {
    let (_, challenge) = pkce();
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (email, password) in attempts {
        let (http, url) = (http.clone(), format!("{issuer}/journeys/sign-in"));
        let body = json!({"client_id": api.id, "redirect_uri": api.redirect_uri, "scope": "openid",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "email": email, "password": password});
        tasks.push(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    join_all(tasks).await
}

#[tokio::test]
async fn forty_parallel_guesses_get_no_more_verdicts_than_the_account_limit() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start(&db).await;
    let issuer = server.issuer("acme");
    let api = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    // 40 wrong passwords at once: before reservation, all 40 read "not
    // blocked" before the first failure was written.
    let attempts: Vec<_> = (0..40)
        .map(|i| (EMAIL.to_string(), format!("wrong password {i}")))
        .collect();
    let statuses = parallel_sign_ins(&issuer, &api, attempts).await;
    let verdicts = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        verdicts <= 5,
        "at most the limit of 5 attempts may be checked, got {verdicts}: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
    // The account is now blocked, for the right password too, on both
    // front ends.
    let again = parallel_sign_ins(&issuer, &api, vec![(EMAIL.into(), PASSWORD.into())]).await;
    assert_eq!(again, [429]);
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&issuer, &client, Some(&challenge), &[]))
        .await;
    let p = browser
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(p.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn parallel_guesses_on_the_hosted_page_are_limited_too() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_SIGNIN_MAX_FAILURES", "3")]).await;
    let issuer = server.issuer("acme");
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let (_, challenge) = pkce();
    let browser = std::sync::Arc::new(Browser::new());
    let page = std::sync::Arc::new(
        browser
            .get(&authorize_url(&issuer, &client, Some(&challenge), &[]))
            .await,
    );
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (browser, page) = (browser.clone(), page.clone());
        tasks.push(async move {
            let pw = format!("wrong guess {i}");
            browser
                .submit(&page, &[("email", EMAIL), ("password", &pw)])
                .await
                .status
        });
    }
    let statuses = join_all(tasks).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 3, "{checked} of 20 were checked: {statuses:?}");
    assert_eq!(
        checked + statuses.iter().filter(|s| **s == 429).count(),
        20,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn parallel_guesses_across_accounts_stop_at_the_ip_limit() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_SIGNIN_IP_MAX_FAILURES", "4")]).await;
    let issuer = server.issuer("acme");
    let api = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let attempts = (0..30)
        .map(|i| (format!("person{i}@example.com"), "guess-guess".to_string()))
        .collect();
    let statuses = parallel_sign_ins(&issuer, &api, attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 4, "{checked} of 30 were checked: {statuses:?}");
    // Refused attempts were given back to the accounts they named: none of
    // them is blocked by the IP's block, and the IP's own rows stay few.
    let rows = db
        .count("SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'signin:account:%'")
        .await;
    assert!(rows <= 30, "{rows}");
}

#[tokio::test]
async fn a_success_takes_its_attempt_back_from_the_ip_count() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_SIGNIN_IP_MAX_FAILURES", "3")]).await;
    let issuer = server.issuer("acme");
    let api = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    // Many people behind one address sign in successfully: the IP limit
    // counts failures only.
    for _ in 0..6 {
        let s = parallel_sign_ins(&issuer, &api, vec![(EMAIL.into(), PASSWORD.into())]).await;
        assert_eq!(s, [200], "successes never use up the IP's allowance");
    }
}

#[tokio::test]
async fn registration_is_limited_per_ip() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start_with(&db, &[("KEYGATE_REGISTER_IP_MAX", "3")]).await;
    let issuer = server.issuer("acme");
    let api = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let (_, challenge) = pkce();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = http
            .post(format!("{issuer}/journeys/register"))
            .json(
                &json!({"client_id": api.id, "redirect_uri": api.redirect_uri, "scope": "openid",
                "code_challenge": challenge, "code_challenge_method": "S256",
                "email": format!("new{i}@example.com"), "password": "a long enough password"}),
            )
            .send()
            .await
            .unwrap();
        statuses.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
    }
    assert_eq!(
        statuses,
        [
            (201, false),
            (201, false),
            (201, false),
            (429, true),
            (429, true)
        ]
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE tenant_id = 'acme'")
            .await,
        3
    );
    // The hosted page shares the limit.
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let browser = Browser::new();
    let page = browser
        .get(&format!(
            "{issuer}/register?{}",
            authorize_url(&issuer, &client, Some(&challenge), &[])
                .split_once('?')
                .unwrap()
                .1
        ))
        .await;
    let p = browser
        .submit(
            &page,
            &[
                ("email", "page@example.com"),
                ("password", "a long enough password"),
                ("name", "Page"),
            ],
        )
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(p.body.contains("Too many accounts"), "{}", p.body);
}

#[tokio::test]
async fn hostile_bodies_are_refused_before_any_work() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start(&db).await;
    let issuer = server.issuer("acme");
    let c = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials"],
    );
    let http = reqwest::Client::new();
    // 18,000 distinct names in 64 KiB.
    let mut body = String::from("grant_type=client_credentials");
    let mut i = 0;
    while body.len() < 60_000 {
        body.push_str(&format!("&{i:x}="));
        i += 1;
    }
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(&c.id, Some(c.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .contains("more than 100 parameters"));
    // The same as JSON.
    let obj: serde_json::Map<String, Value> =
        (0..5_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(&c.id, Some(c.secret()))
        .json(&obj)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Thousands of distinct scope values.
    let scope = (0..6_000)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (s, _, v) = token(
        &issuer,
        Some((&c.id, c.secret())),
        &[("grant_type", "client_credentials"), ("scope", &scope)],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_scope")),
        "{v}"
    );
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .contains("more than 100 scopes"));
    // Service goes on.
    let (s, _, v) = token(
        &issuer,
        Some((&c.id, c.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn unique_long_client_ids_grow_neither_the_store_nor_memory() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start(&db).await;
    let issuer = server.issuer("acme");
    let http = reqwest::Client::new();
    // Warm up, then measure.
    let (s, _, _) = token(
        &issuer,
        Some(("warm-up", "secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 401);
    let rss_before = rss_kb(server.pid());
    for i in 0..300 {
        let id = format!("{i}-{}", "x".repeat(60_000));
        let r = http
            .post(format!("{issuer}/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", "guess"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "attempt {i}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client");
    }
    // Unknown ids of ordinary length are not counted either.
    for i in 0..50 {
        let (s, _, _) = token(
            &issuer,
            Some((&format!("unknown-{i}"), "guess")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(s, 401);
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM rate_limits").await, 0);
    let grown = rss_kb(server.pid()).saturating_sub(rss_before);
    assert!(grown < 8 * 1024, "RSS grew by {grown} kB");
}

/// `n` client_credentials requests one after the other; their statuses and
/// the first refusal's Retry-After and error.
async fn burst(issuer: &str, c: &TestClient, n: usize) -> (Vec<u16>, Option<(u64, Value)>) {
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..n {
        let (s, h, body) = token(
            issuer,
            Some((&c.id, c.secret())),
            &[("grant_type", "client_credentials")],
        )
        .await;
        statuses.push(s);
        if s == 429 && refusal.is_none() {
            let retry = h["retry-after"].to_str().unwrap().parse().unwrap();
            refusal = Some((retry, body));
        }
    }
    (statuses, refusal)
}

#[tokio::test]
async fn the_token_endpoint_limits_each_client_by_its_own_tenants_or_the_servers_rate() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let out = db.cli(
        &["tenant", "create", "slow", "--token-rate-limit", "3"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start_with(&db, &[("KEYGATE_TOKEN_RATE_LIMIT", "4")]).await;
    let cc = ["--grant", "client_credentials"];
    // The server's default.
    let acme = db.client("acme", "http://127.0.0.1:9/callback", &cc);
    let (statuses, refusal) = burst(&server.issuer("acme"), &acme, 8).await;
    assert_eq!(&statuses[..4], [200; 4], "{statuses:?}");
    assert!(statuses[4..].contains(&429), "{statuses:?}");
    let (retry, body) = refusal.unwrap();
    assert!((1..=1).contains(&retry), "{retry}");
    assert_eq!(body["error"], "too_many_requests", "{body}");
    // Another client of the same tenant has a bucket of its own.
    let other = db.client("acme", "http://127.0.0.1:9/callback", &cc);
    let (s, _) = burst(&server.issuer("acme"), &other, 1).await;
    assert_eq!(s, [200]);
    // A second later the bucket has refilled.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, _) = burst(&server.issuer("acme"), &acme, 1).await;
    assert_eq!(s, [200]);
    // The tenant's own rate, and a client's own setting over it.
    let slow = db.client("slow", "http://127.0.0.1:9/callback", &cc);
    let (statuses, _) = burst(&server.issuer("slow"), &slow, 6).await;
    assert_eq!(&statuses[..3], [200; 3], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let mut flags = cc.to_vec();
    flags.extend(["--token-rate-limit", "off"]);
    let free = db.client("slow", "http://127.0.0.1:9/callback", &flags);
    let (statuses, _) = burst(&server.issuer("slow"), &free, 30).await;
    assert_eq!(statuses, [200; 30]);
    // A bad setting is refused with a clear message and writes nothing.
    let out = db.cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--token-rate-limit",
            "fast",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a rate"));
}

#[tokio::test]
async fn outstanding_codes_per_person_and_client_are_capped() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_MAX_OUTSTANDING_CODES", "3")]).await;
    let issuer = server.issuer("acme");
    let client = db.client("acme", "http://127.0.0.1:9/callback", &[]);
    let browser = Browser::new();
    // The sign-in's code and two silent ones from the session.
    let first = obtain_code(&browser, &issuer, &client, None, &[]).await;
    for _ in 0..2 {
        obtain_code(&browser, &issuer, &client, None, &[]).await;
    }
    let page = browser
        .get(&authorize_url(&issuer, &client, None, &[]))
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.location().is_none());
    assert!(page.headers.contains_key("retry-after"));
    assert_eq!(
        db.count("SELECT COUNT(*) FROM grants WHERE code_consumed_at IS NULL")
            .await,
        3
    );
    // Redeeming one makes room for one more.
    let (s, _, body) = token(
        &issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &first),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    obtain_code(&browser, &issuer, &client, None, &[]).await;
}
