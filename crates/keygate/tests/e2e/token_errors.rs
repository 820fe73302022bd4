//! Every error of the token endpoint (RFC 6749 5.2, RFC 7636 4.6,
//! RFC 9700), each followed by the proof that a normal exchange still
//! succeeds. When the refused request carried a code that it did not
//! consume, the proof is that very code: the refusal left the stored state
//! alone. Never a 500.

use crate::harness::*;
use crate::token_helpers::*;
use serde_json::json;

const FORM: &str = "application/x-www-form-urlencoded";
const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other";

/// A client-authentication case: name, Authorization header, extra body parameters.
type AuthCase<'a> = (&'a str, Option<String>, Vec<(&'a str, String)>);

/// A server, a public client (two redirect URIs), a confidential one
/// (Basic) and a browser signed in once.
struct Fx {
    w: World,
    public: TestClient,
    conf: TestClient,
    browser: Browser,
}

impl Fx {
    async fn new() -> Fx {
        let w = World::new().await;
        let public = w.public_client(&["--redirect-uri", OTHER_REDIRECT]);
        let conf = w.confidential_client(&["--redirect-uri", OTHER_REDIRECT]);
        Fx {
            w,
            public,
            conf,
            browser: Browser::new(),
        }
    }

    fn token_url(&self) -> String {
        format!("{}/token", self.w.issuer)
    }

    /// A fresh code of the public client and its verifier.
    async fn public_code(&self) -> (String, String) {
        let (verifier, challenge) = pkce();
        (
            obtain_code(
                &self.browser,
                &self.w.issuer,
                &self.public,
                Some(&challenge),
                &[],
            )
            .await,
            verifier,
        )
    }

    /// A fresh code of the confidential client (no PKCE).
    async fn conf_code(&self) -> String {
        obtain_code(&self.browser, &self.w.issuer, &self.conf, None, &[]).await
    }

    /// The proof: this public code exchanges normally now.
    async fn public_ok(&self, code: &str, verifier: &str) -> serde_json::Value {
        exchange(&self.w.issuer, &self.public, code, Some(verifier))
            .await
            .tokens()
    }

    async fn conf_ok(&self, code: &str) -> serde_json::Value {
        exchange(&self.w.issuer, &self.conf, code, None)
            .await
            .tokens()
    }

    /// The proof when the refused request carried no usable code: a fresh
    /// code of `client` works.
    async fn fresh_ok(&self, client: &TestClient) {
        fresh_tokens(&self.browser, &self.w.issuer, client).await;
    }

    async fn raw(&self, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut req = http().post(self.token_url()).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        send(req).await
    }
}

/// 400 invalid_request: missing grant_type, code or code_verifier, repeated
/// parameters (form and JSON), malformed JSON, a wrong or missing content
/// type, bytes that are not UTF-8 (raw, percent-encoded, in JSON). Each time
/// the same code then exchanges normally: nothing was consumed.
#[tokio::test]
async fn invalid_request_for_malformed_bodies_and_missing_parameters() {
    let fx = Fx::new().await;
    let id = fx.public.id.clone();
    let ru = fx.public.redirect_uri.clone();
    let cases = [
        "missing grant_type",
        "empty grant_type",
        "missing code",
        "empty code",
        "missing code_verifier of a public client",
        "missing redirect_uri that was sent to /authorize",
        "repeated code",
        "repeated code, the second with a percent-encoded name",
        "repeated key in JSON, the second escaped",
        "repeated grant_type",
        "repeated client_id",
        "repeated key in JSON",
        "malformed JSON",
        "JSON that is not an object",
        "JSON with an object value",
        "JSON with trailing text",
        "content type text/plain",
        "content type multipart/form-data",
        "no content type",
        "form body not UTF-8",
        "form value percent-decoding to invalid UTF-8",
        "form name percent-decoding to invalid UTF-8",
        "JSON body not UTF-8",
    ];
    for case in cases {
        let (code, verifier) = fx.public_code().await;
        let full = [
            ("client_id", id.as_str()),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &ru),
            ("code_verifier", &verifier),
        ];
        let without = |name: &str| {
            form_body(
                &full
                    .iter()
                    .filter(|(k, _)| *k != name)
                    .copied()
                    .collect::<Vec<_>>(),
            )
            .into_bytes()
        };
        let with = |name: &str, value: &str| {
            form_body(
                &full
                    .iter()
                    .map(|(k, v)| if *k == name { (*k, value) } else { (*k, *v) })
                    .collect::<Vec<_>>(),
            )
            .into_bytes()
        };
        let json_full = json!({"client_id": id, "grant_type": "authorization_code", "code": code, "redirect_uri": ru, "code_verifier": verifier}).to_string();
        let form = Some(FORM);
        let jsn = Some("application/json");
        let (ct, body): (Option<&str>, Vec<u8>) = match case {
            "missing grant_type" => (form, without("grant_type")),
            "empty grant_type" => (form, with("grant_type", "")),
            "missing code" => (form, without("code")),
            "empty code" => (form, with("code", "")),
            "missing code_verifier of a public client" => (form, without("code_verifier")),
            "missing redirect_uri that was sent to /authorize" => (form, without("redirect_uri")),
            "repeated code" => (
                form,
                format!("{}&code={code}", form_body(&full)).into_bytes(),
            ),
            "repeated code, the second with a percent-encoded name" => (
                form,
                format!("{}&%63ode={code}", form_body(&full)).into_bytes(),
            ),
            "repeated key in JSON, the second escaped" => (
                jsn,
                json_full
                    .replacen('{', &format!("{{\"\\u0063ode\":\"{code}\","), 1)
                    .into_bytes(),
            ),
            "repeated grant_type" => (
                form,
                format!("grant_type=refresh_token&{}", form_body(&full)).into_bytes(),
            ),
            "repeated client_id" => (
                form,
                format!("{}&client_id={id}", form_body(&full)).into_bytes(),
            ),
            "repeated key in JSON" => (
                jsn,
                json_full
                    .replacen('{', &format!("{{\"code\":\"{code}\","), 1)
                    .into_bytes(),
            ),
            "malformed JSON" => (jsn, json_full.as_bytes()[..json_full.len() - 1].to_vec()),
            "JSON that is not an object" => (
                jsn,
                json!(["grant_type", "authorization_code", "code", code])
                    .to_string()
                    .into_bytes(),
            ),
            "JSON with an object value" => (
                jsn,
                json_full
                    .replacen('{', "{\"claims\":{\"x\":1},", 1)
                    .into_bytes(),
            ),
            "JSON with trailing text" => (jsn, format!("{json_full} {{}}").into_bytes()),
            "content type text/plain" => (Some("text/plain"), form_body(&full).into_bytes()),
            "content type multipart/form-data" => (
                Some("multipart/form-data; boundary=xyz"),
                form_body(&full).into_bytes(),
            ),
            "no content type" => (None, form_body(&full).into_bytes()),
            "form body not UTF-8" => {
                let mut b = form_body(&full).into_bytes();
                b.extend_from_slice(b"&state=\xff\xfe");
                (form, b)
            }
            "form value percent-decoding to invalid UTF-8" => (
                form,
                format!("{}&state=%FF%FE", form_body(&full)).into_bytes(),
            ),
            "form name percent-decoding to invalid UTF-8" => {
                (form, format!("{}&%C3%28=x", form_body(&full)).into_bytes())
            }
            "JSON body not UTF-8" => {
                let mut b = b"{\"state\":\"\xff\xfe\",".to_vec();
                b.extend_from_slice(&json_full.as_bytes()[1..]);
                (jsn, b)
            }
            other => unreachable!("{other}"),
        };
        let r = fx.raw(ct, body).await;
        assert!(r.status < 500, "{case}: {}", r.text);
        r.assert_error(400, "invalid_request");
        fx.public_ok(&code, &verifier).await;
    }
    assert_no_server_error(&fx.w.server);
}

/// A body over 64 KiB, form or JSON, is refused (413) in the RFC 6749 JSON
/// format; the code inside it is left usable. Just under the limit is fine.
#[tokio::test]
async fn oversized_body_is_refused_in_the_oauth_format() {
    let fx = Fx::new().await;
    let padding = "x".repeat(70 * 1024);
    for json_body in [false, true] {
        let (code, verifier) = fx.public_code().await;
        let pairs = [
            ("client_id", fx.public.id.as_str()),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &verifier),
            ("padding", &padding),
        ];
        let (ct, body) = if json_body {
            let map: serde_json::Map<String, serde_json::Value> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            (
                "application/json",
                serde_json::Value::Object(map).to_string(),
            )
        } else {
            (FORM, form_body(&pairs))
        };
        assert!(body.len() > 64 * 1024);
        let r = fx.raw(Some(ct), body.into_bytes()).await;
        assert!((400..500).contains(&r.status), "{}", r.text);
        r.assert_error(413, "invalid_request");
        fx.public_ok(&code, &verifier).await;
    }
    // 60 KiB: accepted (unknown parameters are ignored).
    let (code, verifier) = fx.public_code().await;
    let padding = "x".repeat(60 * 1024);
    let r = post_form(
        &fx.token_url(),
        None,
        &[
            ("client_id", &fx.public.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
            ("code_verifier", &verifier),
            ("padding", &padding),
        ],
    )
    .await;
    r.tokens();
    assert_no_server_error(&fx.w.server);
}

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

/// 400 unauthorized_client: a grant the client is not registered for.
#[tokio::test]
async fn unauthorized_client_for_a_grant_not_allowed() {
    let fx = Fx::new().await;
    let url = fx.token_url();
    // The default grants are authorization_code and refresh_token.
    post_form(
        &url,
        Some((&fx.conf.id, fx.conf.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await
    .assert_error(400, "unauthorized_client");
    fx.conf_ok(&fx.conf_code().await).await;
    // A client without refresh_token presenting a refresh token.
    let no_refresh = fx.w.public_client(&["--grant", "authorization_code"]);
    let (t, _) = fresh_tokens(&fx.browser, &fx.w.issuer, &fx.public).await;
    refresh(
        &fx.w.issuer,
        &no_refresh,
        t["refresh_token"].as_str().unwrap(),
        &[],
    )
    .await
    .assert_error(400, "unauthorized_client");
    fx.fresh_ok(&no_refresh).await;
    // A client_credentials-only client using a code.
    let machine = fx.w.confidential_client(&["--grant", "client_credentials"]);
    let (code, verifier) = fx.public_code().await;
    post_form(
        &url,
        Some((&machine.id, machine.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &fx.public.redirect_uri),
        ],
    )
    .await
    .assert_error(400, "unauthorized_client");
    fx.public_ok(&code, &verifier).await;
    post_form(
        &url,
        Some((&machine.id, machine.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await
    .tokens();
    assert_no_server_error(&fx.w.server);
}

/// 400 unsupported_grant_type for grants Keygate does not implement.
#[tokio::test]
async fn unsupported_grant_type() {
    let fx = Fx::new().await;
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "AUTHORIZATION_CODE",
    ] {
        let (code, verifier) = fx.public_code().await;
        post_form(
            &fx.token_url(),
            None,
            &[
                ("client_id", &fx.public.id),
                ("grant_type", grant),
                ("code", &code),
                ("redirect_uri", &fx.public.redirect_uri),
                ("code_verifier", &verifier),
                ("username", EMAIL),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_error(400, "unsupported_grant_type");
        fx.public_ok(&code, &verifier).await;
    }
    assert_no_server_error(&fx.w.server);
}

/// 400 invalid_scope: person scopes or malformed scopes for
/// client_credentials (refresh widening is in the refresh test).
#[tokio::test]
async fn invalid_scope() {
    let fx = Fx::new().await;
    let machine = fx.w.confidential_client(&["--grant", "client_credentials"]);
    let url = fx.token_url();
    for scope in [
        "openid",
        "api:read email",
        "offline_access",
        "bad\"scope",
        "back\\slash",
    ] {
        post_form(
            &url,
            Some((&machine.id, machine.secret())),
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await
        .assert_error(400, "invalid_scope");
        let t = post_form(
            &url,
            Some((&machine.id, machine.secret())),
            &[("grant_type", "client_credentials"), ("scope", "api:read")],
        )
        .await
        .tokens();
        assert_eq!(t["scope"], "api:read");
    }
    assert_no_server_error(&fx.w.server);
}

/// 401 invalid_client with `WWW-Authenticate: Basic realm=…` whenever the
/// client fails to authenticate: wrong secret, unknown client, a method other
/// than the registered one, two methods at once, a public client sending a
/// secret, malformed Basic credentials. Client authentication comes before
/// the code is looked at, so the same code exchanges normally afterwards.
#[tokio::test]
async fn invalid_client_with_basic_challenge() {
    let fx = Fx::new().await;
    let url = fx.token_url();
    let post_client =
        fx.w.confidential_client(&["--auth-method", "client_secret_post"]);
    let b64 = |s: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    };
    let conf = fx.conf.clone();
    let public = fx.public.clone();

    // Confidential (Basic) client: each refusal with a real code in the request.
    let basic_cases: Vec<AuthCase> = vec![
        (
            "wrong secret",
            Some(keygate_core::basic::encode_basic(&conf.id, "wrong-secret")),
            vec![],
        ),
        (
            "secret of another client",
            Some(keygate_core::basic::encode_basic(
                &conf.id,
                post_client.secret(),
            )),
            vec![],
        ),
        (
            "unknown client",
            Some(keygate_core::basic::encode_basic(
                "no-such-client",
                conf.secret(),
            )),
            vec![],
        ),
        (
            "client_secret_post for a Basic client",
            None,
            vec![
                ("client_id", conf.id.clone()),
                ("client_secret", conf.secret().to_string()),
            ],
        ),
        (
            "no secret at all",
            None,
            vec![("client_id", conf.id.clone())],
        ),
        (
            "Basic and client_secret at once",
            Some(keygate_core::basic::encode_basic(&conf.id, conf.secret())),
            vec![("client_secret", conf.secret().to_string())],
        ),
        (
            "body client_id differs from Basic",
            Some(keygate_core::basic::encode_basic(&conf.id, conf.secret())),
            vec![("client_id", post_client.id.clone())],
        ),
        (
            "Basic not base64",
            Some("Basic !!!not-base64!!!".to_string()),
            vec![],
        ),
        ("Basic without colon", Some(b64(&conf.id)), vec![]),
        ("Basic empty", Some("Basic".to_string()), vec![]),
        ("no client at all", None, vec![]),
    ];
    for (case, authz, extra) in basic_cases {
        let code = fx.conf_code().await;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &conf.redirect_uri),
        ];
        form.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let mut req = http()
            .post(&url)
            .header("content-type", FORM)
            .body(form_body(&form));
        if let Some(a) = authz {
            req = req.header("authorization", a);
        }
        let r = send(req).await;
        assert_eq!(r.status, 401, "{case}: {}", r.text);
        r.assert_error(401, "invalid_client");
        fx.conf_ok(&code).await;
    }

    // client_secret_post client presenting Basic.
    let code = obtain_code(&fx.browser, &fx.w.issuer, &post_client, None, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", post_client.redirect_uri.as_str()),
    ];
    post_form(&url, Some((&post_client.id, post_client.secret())), &form)
        .await
        .assert_error(401, "invalid_client");
    post_form(
        &url,
        None,
        &[
            form[0],
            form[1],
            form[2],
            ("client_id", &post_client.id),
            ("client_secret", "wrong"),
        ],
    )
    .await
    .assert_error(401, "invalid_client");
    post_form(
        &url,
        None,
        &[
            form[0],
            form[1],
            form[2],
            ("client_id", &post_client.id),
            ("client_secret", post_client.secret()),
        ],
    )
    .await
    .tokens();

    // Public client sending a secret, by body or by Basic; unknown public client.
    let public_cases: Vec<AuthCase> = vec![
        (
            "public client with client_secret",
            None,
            vec![
                ("client_id", public.id.clone()),
                ("client_secret", "anything".into()),
            ],
        ),
        (
            "public client with Basic",
            Some(keygate_core::basic::encode_basic(&public.id, "anything")),
            vec![],
        ),
        (
            "public client with Basic and an empty secret",
            Some(b64(&format!("{}:", public.id))),
            vec![],
        ),
        (
            "unknown client_id",
            None,
            vec![("client_id", "no-such-client".into())],
        ),
        (
            "client of another tenant",
            None,
            vec![(
                "client_id",
                fx.w.db
                    .client("default", &public.redirect_uri, &["--public"])
                    .id,
            )],
        ),
    ];
    for (case, authz, extra) in public_cases {
        let (code, verifier) = fx.public_code().await;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &public.redirect_uri),
            ("code_verifier", &verifier),
        ];
        form.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let mut req = http()
            .post(&url)
            .header("content-type", FORM)
            .body(form_body(&form));
        if let Some(a) = authz {
            req = req.header("authorization", a);
        }
        let r = send(req).await;
        assert_eq!(r.status, 401, "{case}: {}", r.text);
        r.assert_error(401, "invalid_client");
        fx.public_ok(&code, &verifier).await;
    }
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

/// Revocation and introspection decode their bodies as strictly as the
/// token endpoint: a wrong content type, malformed JSON, a repeated
/// parameter, bytes that are not UTF-8 or an oversized body are 4xx
/// invalid_request, and nothing is revoked by such a request.
#[tokio::test]
async fn revocation_and_introspection_refuse_malformed_bodies() {
    let fx = Fx::new().await;
    let (t, _) = fresh_tokens(&fx.browser, &fx.w.issuer, &fx.public).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let auth = keygate_core::basic::encode_basic(&fx.conf.id, fx.conf.secret());
    let public_form = |token: &str| form_body(&[("token", token), ("client_id", &fx.public.id)]);
    for endpoint in ["revoke", "introspect"] {
        let url = format!("{}/{endpoint}", fx.w.issuer);
        // The public client revokes its own tokens; the confidential one introspects.
        let revoke = endpoint == "revoke";
        let authz = (!revoke).then_some(auth.as_str());
        let form_for = |tok: &str| {
            if revoke {
                public_form(tok)
            } else {
                form_body(&[("token", tok)])
            }
        };
        let mut not_utf8 = form_for(rt).into_bytes();
        not_utf8.extend_from_slice(b"&x=\xff");
        let cases: Vec<(u16, &str, Vec<u8>)> = vec![
            (400, "text/plain", form_for(rt).into_bytes()),
            (
                400,
                "application/json",
                format!("{{\"token\":\"{rt}\",\"client_id\":\"{}\"", fx.public.id).into_bytes(),
            ),
            (
                400,
                FORM,
                format!("{}&token={at}", form_for(rt)).into_bytes(),
            ),
            (400, FORM, not_utf8),
            (400, FORM, format!("{}&x=%FF", form_for(rt)).into_bytes()),
            (
                413,
                FORM,
                format!("{}&x={}", form_for(rt), "y".repeat(70 * 1024)).into_bytes(),
            ),
        ];
        for (status, ct, body) in cases {
            let mut req = http().post(&url).header("content-type", ct).body(body);
            if let Some(a) = authz {
                req = req.header("authorization", a);
            }
            send(req).await.assert_error(status, "invalid_request");
        }
    }
    // Nothing was revoked (the tokens are the public client's, so
    // introspection would not tell the confidential caller; use them).
    assert_eq!(userinfo(&fx.w.issuer, at).await.status, 200);
    refresh(&fx.w.issuer, &fx.public, rt, &[]).await.tokens();
    assert_no_server_error(&fx.w.server);
}
