//! Sessions of the hosted pages: cookies, silent sign-in, auth_time, CSRF,
//! and sign-out.

use crate::harness::*;
use crate::pages_helpers::*;
use std::time::Duration;

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
