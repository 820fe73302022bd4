//! The hosted sign-in and registration pages at every front door: what they
//! show, which requests they refuse (never redirecting to an untrusted target),
//! and their security headers.

use crate::harness::*;
use crate::pages_helpers::header;
use crate::pages_helpers::*;

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
                "another loopback address",
                vec![
                    ("response_type", "code"),
                    ("client_id", id),
                    ("redirect_uri", "http://127.0.0.2:9/callback"),
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
            // No script but the passkeys' one, by its hash, on the
            // sign-in pages of a host name (docs/account.md, "Passkeys").
            assert!(!csp.contains("unsafe"), "{what}: {csp}");
            assert!(
                !csp.contains("script-src") || csp.contains("script-src 'sha256-"),
                "{what}: {csp}"
            );
            assert_eq!(header(page, "referrer-policy"), "no-referrer", "{what}");
            assert_eq!(header(page, "x-content-type-options"), "nosniff", "{what}");
            assert_eq!(header(page, "cache-control"), "no-store", "{what}");
            // No JavaScript needed: the only script is the passkeys' one,
            // and it comes only with the passkey button.
            assert!(
                !page.body.contains("<script") || page.body.contains("id=\"kg-passkey\""),
                "{what}: no JavaScript needed"
            );
        }
    }
}

/// RFC 8252 7.3: a native app registers `http://127.0.0.1/callback` and
/// listens on whatever port it gets; the code goes to that port, and the
/// token request must name the same URI, port included.
#[tokio::test]
async fn a_native_apps_loopback_redirect_uri_works_on_any_port() {
    let w = World::new().await;
    let app =
        w.db.client("acme", "http://127.0.0.1/callback", &["--public"]);
    let mut at_port = app.clone();
    at_port.redirect_uri = "http://127.0.0.1:51234/callback".into();
    let (verifier, challenge) = pkce();
    let code = obtain_code(&Browser::new(), &w.issuer, &at_port, Some(&challenge), &[]).await;
    let exchange = |uri: &'static str, code: String, verifier: String| {
        let (issuer, id) = (w.issuer.clone(), app.id.clone());
        async move {
            token(
                &issuer,
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", uri),
                    ("client_id", &id),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    // Another port at the token endpoint is not the URI the code went to.
    let (status, _, body) = exchange(
        "http://127.0.0.1:51235/callback",
        code.clone(),
        verifier.clone(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = obtain_code(&Browser::new(), &w.issuer, &at_port, Some(&challenge), &[]).await;
    let (status, _, body) = exchange("http://127.0.0.1:51234/callback", code, verifier).await;
    assert_eq!(status, 200, "{body}");
    // Another path, or localhost, is still refused at /authorize.
    let mut other = app.clone();
    other.redirect_uri = "http://localhost:51234/callback".into();
    let page = Browser::new()
        .get(&crate::harness::authorize_url(
            &w.issuer,
            &other,
            Some(&challenge),
            &[],
        ))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
}
