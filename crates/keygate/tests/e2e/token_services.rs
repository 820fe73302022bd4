//! The endpoints around the tokens: userinfo (RFC 6750 errors), revocation
//! (RFC 7009), introspection (RFC 7662) and discovery.

use crate::harness::*;
use crate::token_helpers::*;
use serde_json::{json, Value};

/// UserInfo by GET and POST (header, or form body per RFC 6750 2.2), and the
/// RFC 6750 errors: no token (401, a challenge without error code), a bad,
/// foreign or revoked token (401 `error="invalid_token"`), a token sent twice (400).
#[tokio::test]
async fn userinfo_get_and_post_with_rfc6750_errors() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let sub = user_sub(&w.db, "acme").await;
    let client = w.public_client(&[]);
    let browser = Browser::new();
    let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t["access_token"].as_str().unwrap();
    let url = format!("{}/userinfo", w.issuer);
    let expected =
        json!({"sub": sub, "name": "Ann Example", "email": EMAIL, "email_verified": false});
    let ok = [
        send(http().get(&url).bearer_auth(at)).await,
        send(http().post(&url).bearer_auth(at)).await,
        send(
            http()
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_body(&[("access_token", at)])),
        )
        .await,
    ];
    for r in &ok {
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(r.json["sub"], expected["sub"]);
        assert_eq!(r.json["name"], expected["name"]);
        assert_eq!(r.json["email"], expected["email"]);
        assert!(r.json["email_verified"].is_boolean());
    }

    let no_token = send(http().get(&url)).await;
    assert_eq!(no_token.status, 401);
    let c = no_token.header("www-authenticate").unwrap();
    assert!(
        c.starts_with("Bearer") && !c.contains("error="),
        "RFC 6750 3.1: no error code without a token: {c}"
    );
    assert!(no_token.json.get("error").is_none(), "{}", no_token.json);

    let mut tampered = at.to_string();
    tampered.pop();
    tampered.push(if at.ends_with('A') { 'B' } else { 'A' });
    let root = w.server.base.clone();
    let bad = [
        send(http().get(&url).bearer_auth("not-a-jwt")).await,
        send(http().get(&url).bearer_auth(&tampered)).await,
        send(
            http()
                .get(&url)
                .bearer_auth(t["id_token"].as_str().unwrap()),
        )
        .await,
        send(http().get(format!("{root}/userinfo")).bearer_auth(at)).await,
    ];
    for r in &bad {
        assert_eq!(r.status, 401, "{}", r.text);
        let c = r.header("www-authenticate").unwrap();
        assert!(
            c.starts_with("Bearer") && c.contains("error=\"invalid_token\""),
            "{c}"
        );
        assert_eq!(r.json["error"], "invalid_token");
    }
    let twice = send(
        http()
            .post(&url)
            .bearer_auth(at)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("access_token", at)])),
    )
    .await;
    assert_eq!(twice.status, 400, "{}", twice.text);
    assert!(twice
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_request\""));

    // Revoked (RFC 7009) → invalid_token.
    let rv = post_form(
        &format!("{}/revoke", w.issuer),
        None,
        &[("token", at), ("client_id", &client.id)],
    )
    .await;
    assert_eq!(rv.status, 200, "{}", rv.text);
    let r = userinfo(&w.issuer, at).await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));

    // The root door's userinfo with a token of the root issuer.
    let rc =
        w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    let (rt, _) = fresh_tokens(&Browser::new(), &root, &rc).await;
    let r = send(
        http()
            .post(format!("{root}/userinfo"))
            .bearer_auth(rt["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_server_error(&w.server);
}

/// Revoking a refresh token (RFC 7009) ends its family: the grant's access
/// tokens become inactive at introspection, userinfo answers 401, and no
/// token of the family refreshes any more. At the path door and at the root's
/// `/oauth/revoke`.
#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let caller = w.confidential_client(&[]);
    let root_caller = w.db.client("default", "http://127.0.0.1:9/callback", &[]);
    let cases = [
        (w.issuer.clone(), w.public_client(&[]), caller, "revoke"),
        (
            w.server.base.clone(),
            w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]),
            root_caller.clone(),
            "oauth/revoke",
        ),
        (
            w.server.base.clone(),
            root_caller.clone(),
            root_caller,
            "oauth/revoke",
        ),
    ];
    for (issuer, client, caller, path) in cases {
        let browser = Browser::new();
        let (t1, _) = fresh_tokens(&browser, &issuer, &client).await;
        let t2 = refresh(&issuer, &client, t1["refresh_token"].as_str().unwrap(), &[])
            .await
            .tokens();
        // An unrelated grant of the same client, which must stay alive.
        let (other, _) = fresh_tokens(&browser, &issuer, &client).await;
        for at in [&t1["access_token"], &t2["access_token"]] {
            let at = at.as_str().unwrap();
            assert_eq!(userinfo(&issuer, at).await.status, 200);
            // Introspection tells only the token's own client that it is active.
            assert_eq!(
                introspect(&issuer, &caller, at).await.json["active"],
                caller.id == client.id
            );
        }
        let mut form = vec![
            ("token", t2["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ];
        let basic = client.secret.as_deref().map(|s| (client.id.as_str(), s));
        if basic.is_none() {
            form.push(("client_id", &client.id));
        }
        let r = post_form(&format!("{issuer}/{path}"), basic, &form).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_no_store(&r.headers);
        for at in [&t1["access_token"], &t2["access_token"]] {
            let at = at.as_str().unwrap();
            let i = introspect(&issuer, &caller, at).await;
            assert_eq!(i.status, 200);
            assert_eq!(i.json, json!({"active": false}), "{}", i.text);
            let u = userinfo(&issuer, at).await;
            assert_eq!(u.status, 401, "{}", u.text);
            assert!(u
                .header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\""));
        }
        assert_eq!(
            introspect(&issuer, &caller, t2["refresh_token"].as_str().unwrap())
                .await
                .json,
            json!({"active": false})
        );
        refresh(&issuer, &client, t2["refresh_token"].as_str().unwrap(), &[])
            .await
            .assert_error(400, "invalid_grant");
        // Revoking again, or an unknown token: still 200 (RFC 7009 2.2).
        assert_eq!(
            post_form(&format!("{issuer}/{path}"), basic, &form)
                .await
                .status,
            200
        );
        // The other grant is untouched.
        assert_eq!(
            userinfo(&issuer, other["access_token"].as_str().unwrap())
                .await
                .status,
            200
        );
        refresh(
            &issuer,
            &client,
            other["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await
        .tokens();
    }
    assert_no_server_error(&w.server);
}

/// Revoking an access token blocks it alone; unknown tokens are answered
/// 200; another client's tokens are refused with invalid_request and left
/// alone (RFC 7009 2.1); a missing `token` is invalid_request; a failed
/// client authentication is 401 invalid_client.
#[tokio::test]
async fn revoking_an_access_token_and_revocation_errors() {
    let w = World::new().await;
    let client = w.confidential_client(&[]);
    let other = w.confidential_client(&[]);
    let browser = Browser::new();
    let url = format!("{}/revoke", w.issuer);
    let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    // Another client cannot revoke it.
    for token in [at, rt] {
        let r = post_form(&url, Some((&other.id, other.secret())), &[("token", token)]).await;
        r.assert_error(400, "invalid_request");
        assert!(r.text.contains("another client"), "{}", r.text);
    }
    assert_eq!(userinfo(&w.issuer, at).await.status, 200);
    assert_eq!(
        post_form(
            &url,
            Some((&client.id, client.secret())),
            &[("token", "no-such-token")]
        )
        .await
        .status,
        200
    );
    post_form(&url, Some((&client.id, client.secret())), &[])
        .await
        .assert_error(400, "invalid_request");
    post_form(&url, Some((&client.id, "wrong")), &[("token", at)])
        .await
        .assert_error(401, "invalid_client");
    assert_eq!(
        userinfo(&w.issuer, at).await.status,
        200,
        "nothing was revoked so far"
    );
    // The owner revokes the access token (JSON body too).
    let r = send(
        http()
            .post(&url)
            .header(
                "authorization",
                keygate_core::basic::encode_basic(&client.id, client.secret()),
            )
            .json(&json!({"token": at})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(userinfo(&w.issuer, at).await.status, 401);
    assert_eq!(
        introspect(&w.issuer, &other, at).await.json,
        json!({"active": false})
    );
    // The refresh token lives on.
    let n = refresh(&w.issuer, &client, rt, &[]).await.tokens();
    assert_eq!(
        userinfo(&w.issuer, n["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    assert_no_server_error(&w.server);
}

/// RFC 7662: active tokens with their fields, inactive ones as
/// `{"active": false}`, confidential callers only, and only the token's own
/// client learns that it is active (RFC 7662 4).
#[tokio::test]
async fn introspection_of_access_and_refresh_tokens() {
    let w = World::new().await;
    let sub = user_sub(&w.db, "acme").await;
    let client = w.confidential_client(&[]);
    let caller = client.clone();
    let public = w.public_client(&[]);
    let browser = Browser::new();
    let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let url = format!("{}/introspect", w.issuer);

    let i = introspect(&w.issuer, &caller, at).await;
    assert_eq!(i.status, 200, "{}", i.text);
    assert_no_store(&i.headers);
    let c = claims(at);
    assert_eq!(i.json["active"], true);
    for f in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "jti",
    ] {
        assert_eq!(i.json[f], c[f], "{f}: {}", i.text);
    }
    assert_eq!(i.json["sub"], sub.as_str());
    assert_eq!(i.json["client_id"], client.id.as_str());
    assert_eq!(i.json["scope"], SCOPE_ALL);

    let i = post_form(
        &url,
        None,
        &[
            ("token", rt),
            ("client_id", &client.id),
            ("client_secret", client.secret()),
        ],
    )
    .await;
    assert_eq!(i.json["active"], true, "{}", i.text);
    assert_eq!(i.json["client_id"], client.id.as_str());
    assert_eq!(i.json["sub"], sub.as_str());
    assert!(i.json["exp"].as_i64().unwrap() > now());

    for junk in ["garbage", t["id_token"].as_str().unwrap()] {
        assert_eq!(
            introspect(&w.issuer, &caller, junk).await.json,
            json!({"active": false})
        );
    }
    // Another confidential client learns nothing.
    let other = w.confidential_client(&[]);
    for token in [at, rt] {
        assert_eq!(
            introspect(&w.issuer, &other, token).await.json,
            json!({"active": false})
        );
    }
    // A public client may not introspect; a bad secret neither.
    post_form(&url, None, &[("token", at), ("client_id", &public.id)])
        .await
        .assert_error(401, "invalid_client");
    post_form(&url, Some((&caller.id, "wrong")), &[("token", at)])
        .await
        .assert_error(401, "invalid_client");
    post_form(&url, Some((&caller.id, caller.secret())), &[])
        .await
        .assert_error(400, "invalid_request");

    // After rotation the old refresh token is inactive, the new one active.
    let n = refresh(&w.issuer, &client, rt, &[]).await.tokens();
    assert_eq!(
        introspect(&w.issuer, &caller, rt).await.json,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&w.issuer, &caller, n["refresh_token"].as_str().unwrap())
            .await
            .json["active"],
        true
    );
    // A token of another issuer is not active here.
    let root_caller = w.db.client("default", "http://127.0.0.1:9/callback", &[]);
    assert_eq!(
        introspect(
            &w.server.base,
            &root_caller,
            n["access_token"].as_str().unwrap()
        )
        .await
        .json,
        json!({"active": false})
    );
    assert_no_server_error(&w.server);
}

/// Discovery advertises every token-related endpoint at both doors, and each
/// advertised endpoint answers there as the protocol endpoint it is.
#[tokio::test]
async fn discovery_advertises_every_endpoint_and_each_answers() {
    let w = World::new().await;
    let base = w.server.base.clone();
    for issuer in [w.issuer.clone(), base.clone()] {
        let d: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["issuer"], issuer.as_str());
        assert_eq!(d["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(d["userinfo_endpoint"], format!("{issuer}/userinfo"));
        assert_eq!(d["introspection_endpoint"], format!("{issuer}/introspect"));
        let revocation = if issuer == base {
            format!("{base}/oauth/revoke")
        } else {
            format!("{issuer}/revoke")
        };
        assert_eq!(d["revocation_endpoint"], revocation);
        let has = |field: &str, values: &[&str]| {
            let list: Vec<&str> = d[field]
                .as_array()
                .unwrap_or_else(|| panic!("{field} missing: {d}"))
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            for v in values {
                assert!(list.contains(v), "{field} lacks {v}: {list:?}");
            }
        };
        has(
            "grant_types_supported",
            &["authorization_code", "refresh_token", "client_credentials"],
        );
        has(
            "token_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post", "none"],
        );
        has(
            "revocation_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post"],
        );
        has(
            "introspection_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post"],
        );
        has("code_challenge_methods_supported", &["S256", "plain"]);
        has("id_token_signing_alg_values_supported", &["RS256"]);
        has(
            "scopes_supported",
            &["openid", "profile", "email", "offline_access"],
        );
        has("response_types_supported", &["code"]);
        has("subject_types_supported", &["public"]);
        has(
            "claims_supported",
            &[
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "name",
                "email",
            ],
        );

        // Each advertised endpoint is there and speaks its protocol.
        let s = |u: &Value| u.as_str().unwrap().to_string();
        post_form(
            &s(&d["token_endpoint"]),
            None,
            &[("grant_type", "authorization_code")],
        )
        .await
        .assert_error(401, "invalid_client");
        post_form(&s(&d["revocation_endpoint"]), None, &[("token", "x")])
            .await
            .assert_error(401, "invalid_client");
        post_form(&s(&d["introspection_endpoint"]), None, &[("token", "x")])
            .await
            .assert_error(401, "invalid_client");
        let u = send(http().get(s(&d["userinfo_endpoint"]))).await;
        assert_eq!(u.status, 401);
        assert!(u.header("www-authenticate").unwrap().starts_with("Bearer"));
        let jwks: Value = reqwest::get(s(&d["jwks_uri"]))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!jwks["keys"].as_array().unwrap().is_empty());
    }
    // The root's extra Auth0 paths.
    post_form(
        &format!("{base}/oauth/token"),
        None,
        &[("grant_type", "authorization_code")],
    )
    .await
    .assert_error(401, "invalid_client");
    post_form(&format!("{base}/revoke"), None, &[("token", "x")])
        .await
        .assert_error(401, "invalid_client");
    assert_no_server_error(&w.server);
}
