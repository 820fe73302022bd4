//! invalid_grant for codes and refresh tokens: refusals that leave the code or
//! token usable, reuse that revokes (RFC 9700 4.5 and 4.14.2), expiry, and
//! concurrent redemption with exactly one winner.

use crate::error_fixture::*;
use crate::harness::*;
use crate::token_helpers::*;
use serde_json::json;

/// 400 invalid_grant for codes: unknown, wrong or unregistered redirect_uri,
/// wrong or malformed verifier, a verifier without a challenge (PKCE
/// downgrade), another client's code, another tenant's code. Those that
/// carried a real code leave it usable.
#[tokio::test]
async fn invalid_grant_for_codes_leaves_the_code_usable() {
    let fx = Fx::new().await;
    let url = fx.token_url();
    let other_public = fx.w.public_client(&[]);

    // Unknown code.
    let (_, verifier) = fx.public_code().await;
    post_form(
        &url,
        None,
        &[
            ("client_id", &fx.public.id),
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.fresh_ok(&fx.public).await;

    // redirect_uri: another registered one, an unregistered one.
    for wrong in [
        OTHER_REDIRECT,
        "http://127.0.0.1:9/callback/",
        "https://evil.example/cb",
    ] {
        let (code, verifier) = fx.public_code().await;
        post_form(
            &url,
            None,
            &[
                ("client_id", &fx.public.id),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", wrong),
                ("code_verifier", &verifier),
            ],
        )
        .await
        .assert_error(400, "invalid_grant");
        fx.public_ok(&code, &verifier).await;
        let code = fx.conf_code().await;
        post_form(
            &url,
            Some((&fx.conf.id, fx.conf.secret())),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", wrong),
            ],
        )
        .await
        .assert_error(400, "invalid_grant");
        fx.conf_ok(&code).await;
    }

    // Verifiers: another valid one, malformed ones, the challenge itself.
    let (other_verifier, _) = pkce();
    for wrong in [
        other_verifier.as_str(),
        "short",
        &"a".repeat(129),
        "not valid!not valid!not valid!not valid!not valid!",
    ] {
        let (code, verifier) = fx.public_code().await;
        post_form(
            &url,
            None,
            &[
                ("client_id", &fx.public.id),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &fx.public.redirect_uri),
                ("code_verifier", wrong),
            ],
        )
        .await
        .assert_error(400, "invalid_grant");
        fx.public_ok(&code, &verifier).await;
    }
    let (verifier, challenge) = pkce();
    let code = obtain_code(&fx.browser, &fx.w.issuer, &fx.public, Some(&challenge), &[]).await;
    post_form(
        &url,
        None,
        &[
            ("client_id", &fx.public.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &challenge),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.public_ok(&code, &verifier).await;

    // A verifier for a code issued without a challenge (PKCE downgrade).
    let code = fx.conf_code().await;
    post_form(
        &url,
        Some((&fx.conf.id, fx.conf.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.conf.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.conf_ok(&code).await;

    // Another client's code, with everything else right.
    let (code, verifier) = fx.public_code().await;
    post_form(
        &url,
        None,
        &[
            ("client_id", &other_public.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    let code2 = fx.conf_code().await;
    post_form(
        &url,
        Some((&fx.conf.id, fx.conf.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.public_ok(&code, &verifier).await;
    post_form(
        &url,
        None,
        &[
            ("client_id", &fx.public.id),
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", &fx.conf.redirect_uri),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.conf_ok(&code2).await;

    // Another tenant's code, presented at the root door by a client of `default`.
    let root_client =
        fx.w.db
            .client("default", &fx.public.redirect_uri, &["--public"]);
    let (code, verifier) = fx.public_code().await;
    post_form(
        &format!("{}/token", fx.w.server.base),
        None,
        &[
            ("client_id", &root_client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.public_ok(&code, &verifier).await;
    assert_no_server_error(&fx.w.server);
}

/// A code used twice: invalid_grant, and the tokens of the first
/// redemption are revoked (RFC 6749 4.1.2, RFC 9700 4.5). Concurrent
/// redemptions: exactly one wins, and its tokens are revoked as well.
#[tokio::test]
async fn reused_code_is_refused_and_revokes_the_first_tokens() {
    let fx = Fx::new().await;
    let (code, verifier) = fx.public_code().await;
    let first = fx.public_ok(&code, &verifier).await;
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&fx.w.issuer, at).await.status, 200);
    for _ in 0..2 {
        exchange(&fx.w.issuer, &fx.public, &code, Some(&verifier))
            .await
            .assert_error(400, "invalid_grant");
    }
    assert_eq!(
        introspect(&fx.w.issuer, &fx.conf, at).await.json,
        json!({"active": false})
    );
    let u = userinfo(&fx.w.issuer, at).await;
    assert_eq!(u.status, 401);
    assert!(u
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
    refresh(
        &fx.w.issuer,
        &fx.public,
        first["refresh_token"].as_str().unwrap(),
        &[],
    )
    .await
    .assert_error(400, "invalid_grant");
    fx.fresh_ok(&fx.public).await;

    // Five redemptions at once.
    let (code, verifier) = fx.public_code().await;
    let all = redeem_concurrently(&fx, &code, &verifier, 5).await;
    let winners: Vec<&Reply> = all.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        all.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in all.iter().filter(|r| r.status != 200) {
        r.assert_error(400, "invalid_grant");
    }
    let at = winners[0].json["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&fx.w.issuer, &fx.conf, at).await.json,
        json!({"active": false}),
        "the replay revoked the winner's tokens"
    );
    fx.fresh_ok(&fx.public).await;
    assert_no_server_error(&fx.w.server);
}

async fn redeem_concurrently(fx: &Fx, code: &str, verifier: &str, n: usize) -> Vec<Reply> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (issuer, client, code, verifier) = (
            fx.w.issuer.clone(),
            fx.public.clone(),
            code.to_string(),
            verifier.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            exchange(&issuer, &client, &code, Some(&verifier)).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// An expired code (KEYGATE_CODE_TTL=1) is invalid_grant; a fresh code of
/// the same client works (on a node with the default lifetime, since a code
/// living one second cannot be relied on to survive its own exchange).
#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let short = Server::start_with(&db, &[("KEYGATE_CODE_TTL", "1")]).await;
    let issuer = short.issuer("acme");
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let code = obtain_code(&browser, &issuer, &client, Some(&challenge), &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    exchange(&issuer, &client, &code, Some(&verifier))
        .await
        .assert_error(400, "invalid_grant");
    let normal = Server::start(&db).await;
    let issuer2 = normal.issuer("acme");
    exchange(&issuer2, &client, &code, Some(&verifier))
        .await
        .assert_error(400, "invalid_grant");
    fresh_tokens(&browser, &issuer2, &client).await;
    assert_no_server_error(&short);
    assert_no_server_error(&normal);
}

/// Refresh errors: unknown token, missing refresh_token, a wrong original
/// verifier or an unregistered redirect_uri (Next Identity's parameters),
/// another client's token, a wider scope: each refused, the token still
/// usable afterwards. A used token is refused and revokes its family.
#[tokio::test]
async fn refresh_errors_leave_the_token_usable_until_reuse() {
    let fx = Fx::new().await;
    let (t, verifier) = fresh_tokens(&fx.browser, &fx.w.issuer, &fx.public).await;
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let pc = &fx.public;
    let (wrong_verifier, _) = pkce();

    refresh(&fx.w.issuer, pc, "no-such-token", &[])
        .await
        .assert_error(400, "invalid_grant");
    post_form(
        &fx.token_url(),
        None,
        &[("grant_type", "refresh_token"), ("client_id", &pc.id)],
    )
    .await
    .assert_error(400, "invalid_request");
    let refusals: [(&[(&str, &str)], &str); 6] = [
        (&[("code_verifier", &wrong_verifier)], "invalid_grant"),
        (&[("code_verifier", "short")], "invalid_grant"),
        (
            &[
                ("redirect_uri", "https://evil.example/cb"),
                ("code_verifier", &verifier),
            ],
            "invalid_grant",
        ),
        (
            &[("redirect_uri", "http://127.0.0.1:9/callback/")],
            "invalid_grant",
        ),
        (
            &[("scope", "openid profile email offline_access api:admin")],
            "invalid_scope",
        ),
        (&[("scope", "openid\"")], "invalid_scope"),
    ];
    for (extra, error) in refusals {
        refresh(&fx.w.issuer, pc, &rt, extra)
            .await
            .assert_error(400, error);
    }
    // Another client presenting it.
    let other = fx.w.public_client(&[]);
    refresh(&fx.w.issuer, &other, &rt, &[])
        .await
        .assert_error(400, "invalid_grant");
    refresh(&fx.w.issuer, &fx.conf, &rt, &[])
        .await
        .assert_error(400, "invalid_grant");
    // Still usable, with the Next Identity parameters right (either registered redirect URI).
    let n = refresh(
        &fx.w.issuer,
        pc,
        &rt,
        &[
            ("redirect_uri", OTHER_REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .tokens();
    let rt2 = n["refresh_token"].as_str().unwrap();
    // Reuse: refused, and the successor dies with the family.
    refresh(&fx.w.issuer, pc, &rt, &[])
        .await
        .assert_error(400, "invalid_grant");
    refresh(&fx.w.issuer, pc, rt2, &[])
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(
        userinfo(&fx.w.issuer, n["access_token"].as_str().unwrap())
            .await
            .status,
        401
    );
    fx.fresh_ok(pc).await;

    // A confidential client whose grant had no PKCE: a verifier is a mismatch.
    let code = fx.conf_code().await;
    let t = fx.conf_ok(&code).await;
    let rt = t["refresh_token"].as_str().unwrap();
    refresh(&fx.w.issuer, &fx.conf, rt, &[("code_verifier", &verifier)])
        .await
        .assert_error(400, "invalid_grant");
    refresh(
        &fx.w.issuer,
        &fx.conf,
        rt,
        &[("redirect_uri", &fx.conf.redirect_uri)],
    )
    .await
    .tokens();
    assert_no_server_error(&fx.w.server);
}

/// One refresh token sent five times at once: exactly one use wins; the
/// others are reuse (invalid_grant), which revokes the family, the winner's
/// new tokens included (RFC 9700 4.14.2). Other grants are unaffected.
#[tokio::test]
async fn concurrent_refreshes_one_wins_and_the_reuse_revokes_the_family() {
    let fx = Fx::new().await;
    let (t, _) = fresh_tokens(&fx.browser, &fx.w.issuer, &fx.public).await;
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (issuer, client, rt) = (fx.w.issuer.clone(), fx.public.clone(), rt.clone());
        tasks.push(tokio::spawn(async move {
            refresh(&issuer, &client, &rt, &[]).await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    let winners: Vec<&Reply> = all.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        all.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in all.iter().filter(|r| r.status != 200) {
        r.assert_error(400, "invalid_grant");
    }
    let w = &winners[0].json;
    refresh(
        &fx.w.issuer,
        &fx.public,
        w["refresh_token"].as_str().unwrap(),
        &[],
    )
    .await
    .assert_error(400, "invalid_grant");
    assert_eq!(
        userinfo(&fx.w.issuer, w["access_token"].as_str().unwrap())
            .await
            .status,
        401
    );
    fx.fresh_ok(&fx.public).await;
    assert_no_server_error(&fx.w.server);
}
