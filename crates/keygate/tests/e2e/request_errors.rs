//! RFC 6749 errors of the token endpoint for malformed or refused requests:
//! invalid_request, oversized bodies, unauthorized_client,
//! unsupported_grant_type, invalid_scope and invalid_client (with its Basic
//! challenge), and malformed bodies at revocation and introspection. Each
//! leaves stored state intact.

use crate::error_fixture::*;
use crate::harness::*;
use crate::token_helpers::*;
use serde_json::json;

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
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
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
