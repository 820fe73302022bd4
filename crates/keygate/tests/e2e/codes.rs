//! Authorization codes from the hosted pages: random, stored only as hashes,
//! single use, short-lived, and bound to client, redirect URI, PKCE and the
//! request.

use crate::harness::*;
use crate::pages_helpers::*;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn codes_are_long_random_and_stored_only_as_hashes() {
    let s = Setup::new().await;
    let mut codes = Vec::new();
    for door in s.doors() {
        let b = s.browser();
        let (code, _) = code_at(&b, &door).await;
        let (_, challenge) = pkce();
        let again = assert_code(
            &b.get(&url_with(
                &door.issuer,
                "/authorize",
                &request(&door.client, &challenge),
            ))
            .await,
            &door,
            "again",
        );
        codes.extend([code, again]);
    }
    let rows = s
        .db
        .query_strings(
            "SELECT id || '|' || tenant_id || '|' || client_id || '|' || user_sub || '|' || scope || '|' || \
             COALESCE(nonce, '') || '|' || COALESCE(code_challenge, '') || '|' || COALESCE(code_challenge_method, '') || '|' || \
             redirect_uri || '|' || code_hash FROM grants",
        )
        .await;
    assert_eq!(rows.len(), codes.len());
    let hashes = s.db.query_strings("SELECT code_hash FROM grants").await;
    for code in &codes {
        // 128 bits or more, base64url.
        assert!(code.len() >= 22, "{code}");
        assert!(
            code.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{code}"
        );
        assert!(
            hashes.contains(&keygate_crypto::secrets::sha256_hex(code)),
            "{code}"
        );
        assert!(
            rows.iter().all(|r| !r.contains(code.as_str())),
            "the code itself is stored"
        );
    }
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), codes.len());
    // 60 seconds by default.
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM grants WHERE code_expires_at - created_at = 60")
            .await,
        codes.len() as i64
    );
}

#[tokio::test]
async fn codes_are_single_use() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let (code, verifier) = code_at(&b, &door).await;
        s.id_token(&door, &code, &verifier).await;
        let (status, body) = s.exchange(&door, &code, &verifier).await;
        assert_eq!(status, 400, "{}: {body}", door.name);
        assert_eq!(body["error"], "invalid_grant", "{}", door.name);
    }
}

#[tokio::test]
async fn codes_expire() {
    let s = Setup::with_env(&[("KEYGATE_CODE_TTL", "1")]).await;
    let door = s.path();
    let b = s.browser();
    let (code, verifier) = code_at(&b, &door).await;
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM grants WHERE code_expires_at - created_at = 1")
            .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = s.exchange(&door, &code, &verifier).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_pkce_and_the_request() {
    let s = Setup::new().await;
    let second = "http://127.0.0.1:9/second";
    for door in s.doors() {
        let tenant = door.tenant;
        let a =
            s.db.client(tenant, CALLBACK, &["--public", "--redirect-uri", second]);
        let other = s.db.client(tenant, CALLBACK, &["--public"]);
        let b = s.browser();
        let (verifier, challenge) = pkce();
        let mut params = request(&a, &challenge);
        params.retain(|(k, _)| *k != "scope");
        params.push(("scope", "openid email"));
        let t0 = now();
        let done = sign_in(&b, &door, &url_with(&door.issuer, "/authorize", &params)).await;
        let t1 = now();
        let door_a = Door {
            name: door.name,
            tenant: door.tenant,
            issuer: door.issuer.clone(),
            client: a.clone(),
            sub: door.sub.clone(),
        };
        let code = assert_code(&done, &door_a, door.name);
        let (other_verifier, _) = pkce();
        let x = |client, redirect, verifier| {
            exchange_as(&s, &door.issuer, &code, client, redirect, verifier)
        };
        let refused = [
            (
                "another client",
                x(&other.id, Some(CALLBACK), Some(&verifier)).await,
                "invalid_grant",
            ),
            (
                "another registered redirect URI",
                x(&a.id, Some(second), Some(&verifier)).await,
                "invalid_grant",
            ),
            (
                "an unregistered redirect URI",
                x(&a.id, Some("https://evil.test/cb"), Some(&verifier)).await,
                "invalid_grant",
            ),
            (
                "no redirect URI",
                x(&a.id, None, Some(&verifier)).await,
                "invalid_request",
            ),
            (
                "another verifier",
                x(&a.id, Some(CALLBACK), Some(&other_verifier)).await,
                "invalid_grant",
            ),
            (
                "the challenge as verifier",
                x(&a.id, Some(CALLBACK), Some(&challenge)).await,
                "invalid_grant",
            ),
            (
                "no verifier",
                x(&a.id, Some(CALLBACK), None).await,
                "invalid_request",
            ),
        ];
        for (what, (status, body), error) in refused {
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some(error)),
                "{} {what}: {body}",
                door.name
            );
        }
        // The refusals did not use the code up; the right exchange works and
        // carries what the request and the sign-in fixed.
        let (status, body) = x(&a.id, Some(CALLBACK), Some(&verifier)).await;
        assert_eq!(status, 200, "{}: {body}", door.name);
        assert_eq!(body["scope"], "openid email");
        assert!(
            body.get("refresh_token").is_none(),
            "offline_access not granted: {body}"
        );
        let id = claims(body["id_token"].as_str().unwrap());
        assert_eq!(id["sub"], door.sub.as_str());
        assert_eq!(id["aud"], a.id.as_str());
        assert_eq!(id["nonce"], "n-456");
        assert_eq!(id["email"], EMAIL);
        assert!(id.get("name").is_none(), "profile not granted: {id}");
        let auth_time = id["auth_time"].as_i64().unwrap();
        assert!(t0 <= auth_time && auth_time <= t1);
    }
}

/// An authorization_code exchange with each part chosen by the caller.
async fn exchange_as(
    s: &Setup,
    issuer: &str,
    code: &str,
    client: &str,
    redirect: Option<&str>,
    verifier: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client),
    ];
    if let Some(r) = redirect {
        form.push(("redirect_uri", r));
    }
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    s.token(issuer, &form).await
}

#[tokio::test]
async fn plain_pkce_works_and_is_the_default_method() {
    let s = Setup::new().await;
    // Public clients need `--pkce plain-allowed` for plain (RFC 9700 2.1.1).
    let door = Door {
        client: s
            .db
            .client("acme", CALLBACK, &["--public", "--pkce", "plain-allowed"]),
        ..s.path()
    };
    let b = s.browser();
    let verifier = keygate_crypto::secrets::random_token(32);
    for method in [Some("plain"), None] {
        let mut params: Vec<(&str, &str)> = request(&door.client, &verifier)
            .into_iter()
            .filter(|(k, _)| *k != "code_challenge_method")
            .collect();
        if let Some(m) = method {
            params.push(("code_challenge_method", m));
        }
        let page = b.get(&url_with(&door.issuer, "/authorize", &params)).await;
        let page = if page.status == 200 {
            b.submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
                .await
        } else {
            page
        };
        let code = assert_code(&page, &door, "plain");
        let (status, body) = s.exchange(&door, &code, &format!("{verifier}x")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        s.id_token(&door, &code, &verifier).await;
    }
}

// ---------------------------------------------------------------------------
// Security headers
