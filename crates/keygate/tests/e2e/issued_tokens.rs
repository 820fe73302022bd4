//! What the token endpoint issues: lifetimes, the RFC 9068 access token, the
//! id_token's claims, refresh-token policy and rotation, client_credentials.

use crate::harness::*;
use crate::token_helpers::*;
use serde_json::json;

/// id_token 14 days and access token 24 hours by default; `--id-token-ttl`
/// and `--access-token-ttl` honored, on refresh too.
#[tokio::test]
async fn token_lifetimes_default_and_per_client() {
    let w = World::new().await;
    let browser = Browser::new();
    let cases = [
        (w.public_client(&[]), 14 * DAY, DAY),
        (
            w.public_client(&["--id-token-ttl", "1h", "--access-token-ttl", "15m"]),
            3600,
            900,
        ),
    ];
    for (client, id_ttl, at_ttl) in cases {
        let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
        let r = refresh(
            &w.issuer,
            &client,
            t["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await
        .tokens();
        for t in [t, r] {
            let id = claims(t["id_token"].as_str().unwrap());
            let at = claims(t["access_token"].as_str().unwrap());
            assert_eq!(
                id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
                id_ttl,
                "{id}"
            );
            assert_eq!(
                at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
                at_ttl,
                "{at}"
            );
            assert_eq!(t["expires_in"], json!(at_ttl));
            assert!((id["iat"].as_i64().unwrap() - now()).abs() <= 5);
        }
    }
}

/// RFC 9068: the access token is a JWT with `typ: at+jwt`, signed with a
/// published key, and carries iss, sub, aud, client_id, scope, exp, iat, jti.
#[tokio::test]
async fn access_token_is_an_rfc9068_jwt() {
    let w = World::new().await;
    let sub = user_sub(&w.db, "acme").await;
    let client = w.public_client(&[]);
    let browser = Browser::new();
    let (t1, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let (t2, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t1["access_token"].as_str().unwrap();
    let h = header(at);
    assert_eq!(h["typ"], "at+jwt", "{h}");
    assert_eq!(h["alg"], "RS256");
    assert!(h["kid"].is_string());
    verify_rs256(&format!("{}/jwks", w.issuer), at).await;
    let c = claims(at);
    assert_eq!(c["iss"], w.issuer.as_str());
    assert_eq!(c["sub"], sub.as_str());
    assert_eq!(c["aud"], client.id.as_str());
    assert_eq!(c["client_id"], client.id.as_str());
    assert_eq!(c["scope"], t1["scope"]);
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!((iat - now()).abs() <= 5 && exp > now(), "{c}");
    let jti = c["jti"].as_str().unwrap();
    assert!(!jti.is_empty());
    assert_ne!(
        jti,
        claims(t2["access_token"].as_str().unwrap())["jti"]
            .as_str()
            .unwrap(),
        "jti is unique"
    );
    // The id_token is a plain JWT, not an access token.
    assert_eq!(header(t1["id_token"].as_str().unwrap())["typ"], "JWT");
}

/// The id_token carries iss, sub, aud, exp, iat, auth_time, nonce and a
/// correct at_hash; e-mail and profile claims only with their scopes.
#[tokio::test]
async fn id_token_claims_and_at_hash_follow_the_scope() {
    let w = World::new().await;
    let sub = user_sub(&w.db, "acme").await;
    let client = w.public_client(&[]);
    let browser = Browser::new();
    let before = now();
    // (scope, nonce, name expected, email expected)
    let cases = [
        ("openid profile email", Some("n-456"), true, true),
        ("openid", None, false, false),
        ("openid email", Some("nonce with spaces"), false, true),
        ("openid profile", Some("n"), true, false),
    ];
    for (scope, nonce, name, email) in cases {
        let (verifier, challenge) = pkce();
        let code = code_at(
            &browser,
            &auth_url(&w.issuer, &client, scope, Some((&challenge, "S256")), nonce),
        )
        .await;
        let t = exchange(&w.issuer, &client, &code, Some(&verifier))
            .await
            .tokens();
        assert_eq!(t["scope"], scope);
        assert!(
            t.get("refresh_token").is_none(),
            "no offline_access, no refresh token: {t}"
        );
        let id_token = t["id_token"].as_str().unwrap();
        verify_rs256(&format!("{}/jwks", w.issuer), id_token).await;
        let id = claims(id_token);
        assert_eq!(id["iss"], w.issuer.as_str());
        assert_eq!(id["sub"], sub.as_str());
        assert_eq!(id["aud"], client.id.as_str());
        let (iat, exp, auth_time) = (
            id["iat"].as_i64().unwrap(),
            id["exp"].as_i64().unwrap(),
            id["auth_time"].as_i64().unwrap(),
        );
        assert!(
            exp > iat && auth_time <= iat && auth_time >= before - 1,
            "{id}"
        );
        assert_eq!(id["nonce"].as_str(), nonce, "{id}");
        assert_eq!(
            id["at_hash"].as_str().unwrap(),
            expected_at_hash(t["access_token"].as_str().unwrap())
        );
        assert_eq!(
            id["name"].as_str(),
            name.then_some("Ann Example"),
            "{scope}: {id}"
        );
        assert_eq!(
            id["email"].as_str(),
            email.then_some(EMAIL),
            "{scope}: {id}"
        );
        assert_eq!(id.get("email_verified").is_some(), email, "{scope}: {id}");
        // userinfo releases the same claims by scope.
        let u = userinfo(&w.issuer, t["access_token"].as_str().unwrap()).await;
        assert_eq!(u.status, 200, "{}", u.text);
        assert_eq!(u.json["sub"], sub.as_str());
        assert_eq!(
            u.json["name"].as_str(),
            name.then_some("Ann Example"),
            "{}",
            u.text
        );
        assert_eq!(
            u.json["email"].as_str(),
            email.then_some(EMAIL),
            "{}",
            u.text
        );
    }
    // Without openid there is no id_token.
    let (verifier, challenge) = pkce();
    let code = code_at(
        &browser,
        &auth_url(
            &w.issuer,
            &client,
            "email",
            Some((&challenge, "S256")),
            None,
        ),
    )
    .await;
    let t = exchange(&w.issuer, &client, &code, Some(&verifier))
        .await
        .tokens();
    assert!(t.get("id_token").is_none(), "{t}");
}

/// PKCE with the plain method (RFC 7636 4.2) is accepted too, from a
/// public client registered with `--pkce plain-allowed`.
#[tokio::test]
async fn pkce_plain_method_is_accepted() {
    let w = World::new().await;
    let client = w.public_client(&["--pkce", "plain-allowed"]);
    let browser = Browser::new();
    let verifier = keygate_crypto::secrets::random_token(48);
    let code = code_at(
        &browser,
        &auth_url(
            &w.issuer,
            &client,
            SCOPE_ALL,
            Some((&verifier, "plain")),
            Some("n"),
        ),
    )
    .await;
    exchange(&w.issuer, &client, &code, Some(&verifier))
        .await
        .tokens();
}

/// Refresh policies: `always` (even without offline_access), `offline_access`
/// (only when granted), `never`; and none when the client may not refresh.
#[tokio::test]
async fn refresh_token_by_client_policy() {
    let w = World::new().await;
    let browser = Browser::new();
    let cases = [
        (vec!["--refresh-tokens", "always"], "openid", true),
        (vec!["--refresh-tokens", "always"], SCOPE_ALL, true),
        (
            vec!["--refresh-tokens", "offline_access"],
            "openid email",
            false,
        ),
        (
            vec!["--refresh-tokens", "offline_access"],
            "openid offline_access",
            true,
        ),
        (vec![], "openid", false),
        (vec![], "openid offline_access", true),
        (vec!["--refresh-tokens", "never"], SCOPE_ALL, false),
        (
            vec![
                "--refresh-tokens",
                "always",
                "--grant",
                "authorization_code",
            ],
            SCOPE_ALL,
            false,
        ),
    ];
    for (extra, scope, expected) in cases {
        let client = w.public_client(&extra);
        let (verifier, challenge) = pkce();
        let code = code_at(
            &browser,
            &auth_url(&w.issuer, &client, scope, Some((&challenge, "S256")), None),
        )
        .await;
        let t = exchange(&w.issuer, &client, &code, Some(&verifier))
            .await
            .tokens();
        assert_eq!(
            t.get("refresh_token").is_some(),
            expected,
            "{extra:?} {scope}: {t}"
        );
        if expected {
            // And the policy holds on refresh as well: a successor is issued.
            let r = refresh(
                &w.issuer,
                &client,
                t["refresh_token"].as_str().unwrap(),
                &[],
            )
            .await
            .tokens();
            assert!(r["refresh_token"].is_string(), "{extra:?} {scope}: {r}");
        }
    }
}

/// Rotation: each use returns a new refresh token and kills the old one
/// (invalid_grant); scope may narrow for one access token but never widen
/// (invalid_scope, token left usable); auth_time and sub are kept.
#[tokio::test]
async fn refresh_rotates_narrows_never_widens_and_keeps_auth_time_and_sub() {
    let w = World::new().await;
    let client = w.confidential_client(&[]);
    let browser = Browser::new();
    let code = code_at(
        &browser,
        &auth_url(
            &w.issuer,
            &client,
            "openid email offline_access",
            None,
            Some("n-1"),
        ),
    )
    .await;
    let first = exchange(&w.issuer, &client, &code, None).await.tokens();
    let id0 = claims(first["id_token"].as_str().unwrap());
    let r0 = first["refresh_token"].as_str().unwrap().to_string();

    // Widening is refused and changes nothing: the same token still works.
    for wider in [
        "openid profile",
        "openid email offline_access profile",
        "api:admin",
    ] {
        refresh(&w.issuer, &client, &r0, &[("scope", wider)])
            .await
            .assert_error(400, "invalid_scope");
    }
    // Narrowing: this access token only.
    let n = refresh(&w.issuer, &client, &r0, &[("scope", "openid")])
        .await
        .tokens();
    assert_eq!(n["scope"], "openid");
    assert_eq!(
        claims(n["access_token"].as_str().unwrap())["scope"],
        "openid"
    );
    let r1 = n["refresh_token"]
        .as_str()
        .expect("the grant keeps offline_access")
        .to_string();
    assert_ne!(r1, r0);
    let id1 = claims(n["id_token"].as_str().unwrap());
    assert!(id1.get("email").is_none(), "narrowed away: {id1}");
    // The successor keeps the grant's full scope.
    let full = refresh(&w.issuer, &client, &r1, &[]).await.tokens();
    assert_eq!(full["scope"], "openid email offline_access");
    let id2 = claims(full["id_token"].as_str().unwrap());
    assert_eq!(id2["email"], EMAIL);
    for (id, t) in [(&id1, &n), (&id2, &full)] {
        assert_eq!(id["sub"], id0["sub"]);
        assert_eq!(id["auth_time"], id0["auth_time"], "original auth_time kept");
        assert!(
            id.get("nonce").is_none() || id["nonce"] == id0["nonce"],
            "{id}"
        );
        assert_eq!(
            id["at_hash"].as_str().unwrap(),
            expected_at_hash(t["access_token"].as_str().unwrap())
        );
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["auth_time"],
            id0["auth_time"]
        );
    }
    assert_eq!(
        claims(full["access_token"].as_str().unwrap())["sub"],
        id0["sub"]
    );
    let r2 = full["refresh_token"].as_str().unwrap().to_string();

    // The used tokens are dead. Presenting one is a reuse (RFC 9700 4.14.2):
    // refused, and the whole family is revoked with it.
    refresh(&w.issuer, &client, &r0, &[])
        .await
        .assert_error(400, "invalid_grant");
    refresh(&w.issuer, &client, &r2, &[])
        .await
        .assert_error(400, "invalid_grant");
    let ui = userinfo(&w.issuer, full["access_token"].as_str().unwrap()).await;
    assert_eq!(ui.status, 401, "{}", ui.text);
    assert_no_server_error(&w.server);
}

/// client_credentials with client_secret_basic and client_secret_post: an
/// access token for the client itself, no id_token, no refresh_token.
#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let w = World::new().await;
    let basic = w.confidential_client(&["--grant", "client_credentials"]);
    let post = w.confidential_client(&[
        "--grant",
        "client_credentials,authorization_code",
        "--auth-method",
        "client_secret_post",
        "--refresh-tokens",
        "always",
    ]);
    let url = format!("{}/token", w.issuer);
    let replies = [
        post_form(
            &url,
            Some((&basic.id, basic.secret())),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "api:read api:write"),
            ],
        )
        .await,
        post_form(
            &url,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &post.id),
                ("client_secret", post.secret()),
                ("scope", "api:read api:write"),
            ],
        )
        .await,
    ];
    for (r, client) in replies.iter().zip([&basic, &post]) {
        let t = r.tokens();
        assert_eq!(
            str_keys(&t),
            ["access_token", "expires_in", "scope", "token_type"],
            "{t}"
        );
        assert_eq!(t["scope"], "api:read api:write");
        let at = t["access_token"].as_str().unwrap();
        assert_eq!(header(at)["typ"], "at+jwt");
        verify_rs256(&format!("{}/jwks", w.issuer), at).await;
        let c = claims(at);
        assert_eq!(
            (
                c["sub"].as_str(),
                c["client_id"].as_str(),
                c["iss"].as_str()
            ),
            (
                Some(client.id.as_str()),
                Some(client.id.as_str()),
                Some(w.issuer.as_str())
            )
        );
        assert!(c["jti"].is_string() && c["exp"].is_i64() && c["iat"].is_i64());
        // It is active at introspection (for its own client, by either
        // secret transport), but not a person's token for userinfo.
        let i = introspect(&w.issuer, client, at).await;
        assert_eq!(i.json["active"], true, "{}", i.text);
        let u = userinfo(&w.issuer, at).await;
        assert_eq!(u.status, 403, "{}", u.text);
        assert!(u
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\""));
    }
    // JSON works as well; no client authentication at all is invalid_client.
    let j = send(http().post(&url).json(&json!({"grant_type": "client_credentials", "client_id": post.id, "client_secret": post.secret()}))).await.tokens();
    assert!(
        j.get("refresh_token").is_none() && j.get("id_token").is_none(),
        "{j}"
    );
    send(
        http()
            .post(&url)
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await
    .assert_error(401, "invalid_client");
    // Without a scope: an empty one.
    let t = post_form(
        &url,
        Some((&basic.id, basic.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await
    .tokens();
    assert!(
        t.get("refresh_token").is_none() && t.get("id_token").is_none(),
        "{t}"
    );
    assert_no_server_error(&w.server);
}

// ---------------------------------------------------------------------------
// userinfo, revocation, introspection, discovery
// ---------------------------------------------------------------------------
