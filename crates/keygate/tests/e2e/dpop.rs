//! DPoP (RFC 9449; docs/dpop.md) over HTTP against a real server: proofs
//! built here with the crypto crate's keys, the token endpoint's nonces and
//! binding, refresh tokens bound to a public client's key, userinfo's DPoP
//! scheme, introspection's `cnf`, `--require-dpop`, `dpop_jkt` at
//! /authorize; and openid-client (npm, `tests/browser/dpop_client.mjs`)
//! doing the code flow, a refresh and userinfo with its `DPoP()` handle.

use crate::harness::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keygate_crypto::keys::{Alg, SigningKey};
use keygate_crypto::thumbprint::jwk_thumbprint;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// A client's DPoP key pair.
struct DpopKey {
    key: SigningKey,
    jwk: Value,
}

/// What a proof says (RFC 9449 4.2).
#[derive(Clone, Copy)]
struct Claims<'a> {
    htm: &'a str,
    htu: &'a str,
    nonce: Option<&'a str>,
    ath: Option<&'a str>,
    iat: i64,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl<'a> Claims<'a> {
    fn post(htu: &'a str, nonce: Option<&'a str>) -> Claims<'a> {
        Claims {
            htm: "POST",
            htu,
            nonce,
            ath: None,
            iat: now(),
        }
    }
}

impl DpopKey {
    fn new(alg: Alg) -> DpopKey {
        let (key, _) = SigningKey::generate(alg, String::new()).unwrap();
        let mut jwk = key.public_jwk();
        for m in ["kid", "alg", "use"] {
            jwk.as_object_mut().unwrap().remove(m);
        }
        DpopKey { key, jwk }
    }

    fn jkt(&self) -> String {
        jwk_thumbprint(&self.jwk).unwrap()
    }

    /// A proof with `header` over `claims` (a fresh `jti` each time).
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.key.alg.as_str(), "jwk": self.jwk})
    }

    fn claims(c: Claims<'_>) -> Value {
        let mut v = json!({
            "jti": keygate_crypto::secrets::random_token(16),
            "htm": c.htm,
            "htu": c.htu,
            "iat": c.iat,
        });
        if let Some(n) = c.nonce {
            v["nonce"] = json!(n);
        }
        if let Some(a) = c.ath {
            v["ath"] = json!(a);
        }
        v
    }

    fn proof(&self, c: Claims<'_>) -> String {
        self.sign(&self.header(), &Self::claims(c))
    }
}

/// A request with `headers` and, for a POST, a form; the answer's status,
/// headers and JSON.
async fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> (u16, HeaderMap, Value) {
    let http = reqwest::Client::new();
    let mut req = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    if let Some(f) = form {
        req = req.form(f);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, h, body)
}

fn nonce_of(h: &HeaderMap) -> String {
    h.get("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_str()
        .unwrap()
        .to_string()
}

fn challenges(h: &HeaderMap) -> Vec<String> {
    h.get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The server's current nonce: a proof without one is answered
/// `use_dpop_nonce` with the nonce to use (RFC 9449 8), and nothing else
/// happens (the form's code or refresh token is left as it was).
async fn fetch_nonce(url: &str, form: &[(&str, &str)], key: &DpopKey) -> String {
    let proof = key.proof(Claims::post(url, None));
    let (s, h, body) = call("POST", url, &[("DPoP", &proof)], Some(form)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    nonce_of(&h)
}

fn basic(c: &TestClient) -> String {
    keygate_core::basic::encode_basic(&c.id, c.secret())
}

#[tokio::test]
async fn a_public_clients_tokens_and_refresh_tokens_are_bound_to_its_key() {
    let w = World::new().await;
    let client = w.public_client(&[]);
    let token_url = format!("{}/token", w.issuer);
    let userinfo_url = format!("{}/userinfo", w.issuer);
    let key = DpopKey::new(Alg::ES256);
    let (verifier, challenge) = pkce();
    let code = obtain_code(&Browser::new(), &w.issuer, &client, Some(&challenge), &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("client_id", client.id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];

    // Discovery names the proof algorithms.
    let (_, _, meta) = call(
        "GET",
        &format!("{}/.well-known/openid-configuration", w.issuer),
        &[],
        None,
    )
    .await;
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "EdDSA"])
    );

    // The token endpoint requires a nonce; one that is not the server's
    // is refused the same way, with a fresh one.
    let nonce = fetch_nonce(&token_url, &form, &key).await;
    let forged = key.proof(Claims::post(&token_url, Some("AAAAAAAAAAAAAAAAAAAAAA")));
    let (s, h, body) = call("POST", &token_url, &[("DPoP", &forged)], Some(&form)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    assert_eq!(nonce_of(&h), nonce);

    // Bad proofs: invalid_dpop_proof (400, RFC 6749 JSON), the code untouched.
    let n = Some(nonce.as_str());
    let other_endpoint = format!("{}/userinfo", w.issuer);
    let mut with_private = key.jwk.clone();
    with_private["d"] = json!("AAAA");
    let bad = [
        (
            "wrong htu",
            key.proof(Claims {
                htu: &other_endpoint,
                ..Claims::post(&token_url, n)
            }),
        ),
        (
            "wrong htm",
            key.proof(Claims {
                htm: "GET",
                ..Claims::post(&token_url, n)
            }),
        ),
        (
            "stale iat",
            key.proof(Claims {
                iat: now() - 300,
                ..Claims::post(&token_url, n)
            }),
        ),
        (
            "iat ahead",
            key.proof(Claims {
                iat: now() + 300,
                ..Claims::post(&token_url, n)
            }),
        ),
        (
            "private key in the jwk",
            key.sign(
                &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": with_private}),
                &DpopKey::claims(Claims::post(&token_url, n)),
            ),
        ),
        (
            "typ JWT",
            key.sign(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk}),
                &DpopKey::claims(Claims::post(&token_url, n)),
            ),
        ),
        (
            "another key's signature",
            DpopKey::new(Alg::ES256)
                .sign(&key.header(), &DpopKey::claims(Claims::post(&token_url, n))),
        ),
        ("not a JWT", "not.a.jwt".to_string()),
    ];
    for (what, proof) in &bad {
        let (s, _, body) = call("POST", &token_url, &[("DPoP", proof)], Some(&form)).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{what}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}"
        );
    }
    // Two DPoP headers.
    let one = key.proof(Claims::post(&token_url, n));
    let two = key.proof(Claims::post(&token_url, n));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("DPoP", &one), ("DPoP", &two)],
        Some(&form),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );

    // A good proof: the tokens are bound to the key.
    let proof = key.proof(Claims::post(&token_url, n));
    let (s, h, tokens) = call("POST", &token_url, &[("DPoP", &proof)], Some(&form)).await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&access)["cnf"], json!({"jkt": key.jkt()}));
    assert!(!nonce_of(&h).is_empty(), "a fresh nonce on success");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    // The same proof again is a replay.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", client.id.as_str()),
    ];
    let (s, _, body) = call("POST", &token_url, &[("DPoP", &proof)], Some(&refresh_form)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );

    // A public client's refresh token is bound (RFC 9449 5): another key,
    // or none, is refused, and the refresh token is left as it was.
    let thief = DpopKey::new(Alg::ES256);
    let thief_proof = thief.proof(Claims::post(&token_url, n));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("DPoP", &thief_proof)],
        Some(&refresh_form),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (s, _, body) = call("POST", &token_url, &[], Some(&refresh_form)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let proof = key.proof(Claims::post(&token_url, n));
    let (s, _, refreshed) =
        call("POST", &token_url, &[("DPoP", &proof)], Some(&refresh_form)).await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(refreshed["token_type"], "DPoP");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    let access = refreshed["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&access)["cnf"]["jkt"], json!(key.jkt()));

    // Userinfo: the DPoP scheme with a proof carrying ath.
    let ath = keygate_core::dpop::ath(&access);
    let get = |k: &DpopKey, ath: Option<&str>| {
        k.proof(Claims {
            htm: "GET",
            htu: &userinfo_url,
            nonce: None,
            ath,
            iat: now(),
        })
    };
    let dpop_auth = format!("DPoP {access}");
    let bearer_auth = format!("Bearer {access}");
    let proof = get(&key, Some(&ath));
    let (s, h, doc) = call(
        "GET",
        &userinfo_url,
        &[("Authorization", &dpop_auth), ("DPoP", &proof)],
        None,
    )
    .await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["email"], EMAIL);
    assert!(h.contains_key("dpop-nonce"));
    // The proof once more: a replay.
    let (s, h, body) = call(
        "GET",
        &userinfo_url,
        &[("Authorization", &dpop_auth), ("DPoP", &proof)],
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_dpop_proof")),
        "{body}"
    );
    assert!(
        challenges(&h)
            .iter()
            .any(|c| c.starts_with("DPoP ") && c.contains("error=\"invalid_dpop_proof\"")),
        "{:?}",
        challenges(&h)
    );
    // A bound token as a bearer token is refused (RFC 9449 7.2).
    let (s, h, body) = call(
        "GET",
        &userinfo_url,
        &[("Authorization", &bearer_auth)],
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    assert!(
        challenges(&h).iter().any(|c| c.starts_with("DPoP algs=")),
        "{:?}",
        challenges(&h)
    );
    // The DPoP scheme without a proof, without ath, with another token's
    // ath, by another key.
    let cases = [
        ("no proof", None, "invalid_dpop_proof"),
        ("no ath", Some(get(&key, None)), "invalid_dpop_proof"),
        (
            "another token's ath",
            Some(get(&key, Some(&keygate_core::dpop::ath("other")))),
            "invalid_dpop_proof",
        ),
        (
            "another key",
            Some(get(&thief, Some(&ath))),
            "invalid_token",
        ),
        (
            "a POST proof",
            Some(key.proof(Claims {
                ath: Some(&ath),
                ..Claims::post(&userinfo_url, None)
            })),
            "invalid_dpop_proof",
        ),
    ];
    for (what, proof, error) in cases {
        let mut headers = vec![("Authorization", dpop_auth.as_str())];
        if let Some(p) = &proof {
            headers.push(("DPoP", p));
        }
        let (s, h, body) = call("GET", &userinfo_url, &headers, None).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (401, Some(error)),
            "{what}: {body}"
        );
        assert!(
            challenges(&h)
                .iter()
                .any(|c| c.starts_with("DPoP algs=\"ES256 RS256 EdDSA\"")),
            "{what}: {:?}",
            challenges(&h)
        );
    }
    // No token at all: both schemes are offered (RFC 9449 7.1).
    let (s, h, _) = call("GET", &userinfo_url, &[], None).await;
    assert_eq!(s, 401);
    let c = challenges(&h);
    assert!(
        c.iter().any(|c| c.starts_with("Bearer")) && c.iter().any(|c| c.starts_with("DPoP algs=")),
        "{c:?}"
    );
}

#[tokio::test]
async fn confidential_clients_require_dpop_and_dpop_jkt() {
    let w = World::new().await;
    let token_url = format!("{}/token", w.issuer);
    let strict = w.confidential_client(&[
        "--grant",
        "authorization_code,refresh_token,client_credentials",
        "--require-dpop",
    ]);
    assert_eq!(
        w.db.cli_json(&["client", "show", "--tenant", "acme", &strict.id], None)["require_dpop"],
        true
    );
    let key = DpopKey::new(Alg::EdDSA);
    let cc = [("grant_type", "client_credentials")];
    let auth = basic(&strict);

    // --require-dpop: no proof, no token.
    let (s, _, body) = call("POST", &token_url, &[("Authorization", &auth)], Some(&cc)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["error_description"].as_str().unwrap().contains("DPoP"),
        "{body}"
    );

    // With a proof (EdDSA here): a bound client_credentials token.
    let proof = key.proof(Claims::post(&token_url, None));
    let (s, h, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&cc),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = nonce_of(&h);
    let proof = key.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&cc),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&access)["cnf"]["jkt"], json!(key.jkt()));

    // Introspection tells the token's type and key (RFC 9449 6.2).
    let (s, _, doc) = call(
        "POST",
        &format!("{}/introspect", w.issuer),
        &[("Authorization", &auth)],
        Some(&[("token", access.as_str())]),
    )
    .await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["active"], true);
    assert_eq!(doc["token_type"], "DPoP");
    assert_eq!(doc["cnf"], json!({"jkt": key.jkt()}));

    // A confidential client's refresh token is not bound (RFC 9449 5):
    // another key may refresh, and the new access token is bound to it.
    let (verifier, challenge) = pkce();
    let code = obtain_code(&Browser::new(), &w.issuer, &strict, Some(&challenge), &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", strict.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let proof = key.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, tokens) = call(
        "POST",
        &token_url,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&form),
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let other = DpopKey::new(Alg::RS256);
    let proof = other.proof(Claims::post(&token_url, Some(&nonce)));
    let rf = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (s, _, refreshed) = call(
        "POST",
        &token_url,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&rf),
    )
    .await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(refreshed["token_type"], "DPoP");
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["cnf"]["jkt"],
        json!(other.jkt())
    );

    // dpop_jkt at /authorize (RFC 9449 10) binds the code: another key is
    // refused and leaves the code usable; the named key gets the tokens.
    let plain = w.confidential_client(&[]);
    let (verifier, challenge) = pkce();
    let jkt = key.jkt();
    let code = obtain_code(
        &Browser::new(),
        &w.issuer,
        &plain,
        Some(&challenge),
        &[("dpop_jkt", &jkt)],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", plain.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let plain_auth = basic(&plain);
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &plain_auth)],
        Some(&form),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let proof = other.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &plain_auth), ("DPoP", &proof)],
        Some(&form),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let proof = key.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &plain_auth), ("DPoP", &proof)],
        Some(&form),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        json!(jkt)
    );
    // A malformed dpop_jkt goes back to the redirect URI as invalid_request.
    let page = Browser::new()
        .get(&authorize_url(
            &w.issuer,
            &plain,
            Some(&challenge),
            &[("dpop_jkt", "nope")],
        ))
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.redirect_params().get("error").map(String::as_str),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn openid_client_uses_dpop_for_the_code_flow_refresh_and_userinfo() {
    let w = World::new().await;
    let client = w.public_client(&[]);
    let (verifier, challenge) = pkce();
    let page = Browser::new();
    let first = page
        .get(&authorize_url(&w.issuer, &client, Some(&challenge), &[]))
        .await;
    let done = page
        .submit(&first, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let callback = done.location().unwrap();
    let steps = crate::real_clients::run_script(
        "dpop_client.mjs",
        &[
            ("KEYGATE_ISSUER", w.issuer.as_str()),
            ("KEYGATE_CLIENT_ID", client.id.as_str()),
            ("KEYGATE_CALLBACK_URL", callback.as_str()),
            ("KEYGATE_CODE_VERIFIER", verifier.as_str()),
            ("KEYGATE_STATE", "st-123"),
            ("KEYGATE_NONCE", "n-456"),
        ],
        &w.server,
    )
    .await;
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
            .clone()
    };
    let discovered = step("discovered");
    assert_eq!(
        discovered["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "EdDSA"])
    );
    let key = step("key");
    // The client's own thumbprint of its key is ours (RFC 7638).
    let jkt = key["jkt"].as_str().unwrap();
    assert_eq!(jwk_thumbprint(&key["jwk"]).unwrap(), jkt);
    let tokens = step("tokens");
    assert_eq!(tokens["token_type"], "dpop", "openid-client lowercases it");
    assert_eq!(tokens["access_token"]["cnf"]["jkt"], json!(jkt));
    assert_eq!(tokens["has_refresh_token"], true);
    let refreshed = step("refreshed");
    assert_eq!(refreshed["token_type"], "dpop");
    assert_eq!(refreshed["rotated"], true);
    assert_eq!(refreshed["access_token"]["cnf"]["jkt"], json!(jkt));
    let userinfo = step("userinfo");
    assert_eq!(userinfo["email"], EMAIL);
    assert_eq!(userinfo["sub"], tokens["access_token"]["sub"]);
}

#[tokio::test]
async fn require_dpop_is_set_by_the_cli_the_admin_api_and_registration() {
    use crate::admin_helpers::admin_world;
    let (w, admin) = admin_world().await;
    w.db.cli_json(
        &["tenant", "update", "acme", "--dynamic-registration", "open"],
        None,
    );
    // The CLI: create with the flag, show it, turn it off and on again.
    let c = w.confidential_client(&["--require-dpop"]);
    let show = |w: &World, id: &str| {
        w.db.cli_json(&["client", "show", "--tenant", "acme", id], None)["require_dpop"].clone()
    };
    assert_eq!(show(&w, &c.id), true);
    w.db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &c.id,
            "--require-dpop",
            "false",
        ],
        None,
    );
    assert_eq!(show(&w, &c.id), false);
    w.db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &c.id,
            "--require-dpop",
        ],
        None,
    );
    assert_eq!(show(&w, &c.id), true);
    let plain = w.confidential_client(&[]);
    assert_eq!(show(&w, &plain.id), false);

    // The admin API: the field on create, on read, and in a PATCH.
    let made = admin
        .post(
            "/tenants/acme/clients",
            json!({"name": "API-made", "redirect_uris": ["https://app.example/cb"], "require_dpop": true}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["require_dpop"], true, "{}", made.body);
    let id = made.body["client_id"].as_str().unwrap().to_string();
    let patched = admin
        .patch(
            &format!("/tenants/acme/clients/{id}"),
            json!({"require_dpop": false}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["require_dpop"], false);
    let bad = admin
        .patch(
            &format!("/tenants/acme/clients/{id}"),
            json!({"require_dpop": "yes"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(show(&w, &id), false);

    // RFC 7591 registration: dpop_bound_access_tokens is the client's
    // require_dpop, and the answer echoes it; a client registered with it
    // gets no token without a proof.
    let (s, _, registered) = {
        let r = reqwest::Client::new()
            .post(format!("{}/oauth/register", w.issuer))
            .json(&json!({
                "client_name": "Agent",
                "redirect_uris": ["https://agent.example/cb"],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials"],
                "dpop_bound_access_tokens": true
            }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let h = r.headers().clone();
        (status, h, r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 201, "{registered}");
    assert_eq!(registered["dpop_bound_access_tokens"], true);
    let rid = registered["client_id"].as_str().unwrap();
    assert_eq!(show(&w, rid), true);
    let auth =
        keygate_core::basic::encode_basic(rid, registered["client_secret"].as_str().unwrap());
    let (s, _, body) = call(
        "POST",
        &format!("{}/token", w.issuer),
        &[("Authorization", &auth)],
        Some(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (s, _, other) = {
        let r = reqwest::Client::new()
            .post(format!("{}/oauth/register", w.issuer))
            .json(&json!({"client_name": "Agent", "redirect_uris": ["https://agent.example/cb"]}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), (), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 201, "{other}");
    assert_eq!(other["dpop_bound_access_tokens"], false);
}

#[tokio::test]
async fn nonces_and_spent_proofs_are_shared_by_every_node() {
    // Two nodes on one database behind one public URL (multi_node.rs):
    // a nonce node A handed out works at node B (it is derived from the
    // shared master key, not stored), and a proof spent at B is a replay
    // at A (its jti is in the shared store).
    let db = Database::new();
    db.tenant("acme", &[]);
    let client = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials"],
    );
    let a = Server::start(&db).await;
    let b = Server::start_behind(&db, &a.base, &[]).await;
    let htu = format!("{}/token", a.issuer("acme"));
    let (at_a, at_b) = (
        format!("{}/token", a.endpoint("acme")),
        format!("{}/token", b.endpoint("acme")),
    );
    let key = DpopKey::new(Alg::ES256);
    let auth = basic(&client);
    let cc = [("grant_type", "client_credentials")];
    let first = key.proof(Claims::post(&htu, None));
    let (s, h, body) = call(
        "POST",
        &at_a,
        &[("Authorization", &auth), ("DPoP", &first)],
        Some(&cc),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = nonce_of(&h);
    let proof = key.proof(Claims::post(&htu, Some(&nonce)));
    let (s, h, body) = call(
        "POST",
        &at_b,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&cc),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        nonce_of(&h),
        nonce,
        "both nodes hand out the same nonce in one window"
    );
    let (s, _, body) = call(
        "POST",
        &at_a,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&cc),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );
}

#[tokio::test]
async fn a_public_device_clients_tokens_are_bound_to_its_key() {
    // The device grant (RFC 8628) with DPoP: the redeemed tokens are bound
    // and the public client's refresh tokens need the same key.
    const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let w = World::new().await;
    let tv = w.public_client(&["--grant", DEVICE_GRANT, "--grant", "refresh_token"]);
    let token_url = format!("{}/token", w.issuer);
    let (s, _, started) = call(
        "POST",
        &format!("{}/device_authorization", w.issuer),
        &[],
        Some(&[
            ("client_id", tv.id.as_str()),
            ("scope", "openid offline_access"),
        ]),
    )
    .await;
    assert_eq!(s, 200, "{started}");
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    let browser = Browser::new();
    let sign_in = browser.get(&format!("{}/account/sign-in", w.issuer)).await;
    let done = browser
        .submit(&sign_in, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let form = browser.get(&format!("{}/device", w.issuer)).await;
    let confirm = browser.submit(&form, &[("user_code", user_code)]).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let allowed = browser.submit(&confirm, &[("decision", "allow")]).await;
    assert!(allowed.status < 400, "{}", allowed.body);

    let key = DpopKey::new(Alg::ES256);
    let poll = [
        ("grant_type", DEVICE_GRANT),
        ("device_code", device_code),
        ("client_id", tv.id.as_str()),
    ];
    let nonce = fetch_nonce(&token_url, &poll, &key).await;
    let proof = key.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, tokens) = call("POST", &token_url, &[("DPoP", &proof)], Some(&poll)).await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        json!(key.jkt())
    );
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", tv.id.as_str()),
    ];
    let thief = DpopKey::new(Alg::ES256).proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call("POST", &token_url, &[("DPoP", &thief)], Some(&refresh)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let proof = key.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call("POST", &token_url, &[("DPoP", &proof)], Some(&refresh)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn a_proof_at_the_pushed_authorization_request_endpoint_binds_the_code() {
    // RFC 9449 10.1: a DPoP proof sent with a pushed request binds the
    // code to its key, as dpop_jkt does; the two must agree.
    let w = World::new().await;
    let c = w.confidential_client(&[]);
    let par_url = format!("{}/par", w.issuer);
    let token_url = format!("{}/token", w.issuer);
    let auth = basic(&c);
    let key = DpopKey::new(Alg::ES256);
    let other = DpopKey::new(Alg::EdDSA);
    let (verifier, challenge) = pkce();
    let request = [
        ("response_type", "code"),
        ("redirect_uri", c.redirect_uri.as_str()),
        ("scope", "openid"),
        ("state", "st-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // A bad proof, and a proof that disagrees with dpop_jkt: refused,
    // nothing pushed.
    let mut bad = key.proof(Claims::post(&token_url, None));
    let (s, _, body) = call(
        "POST",
        &par_url,
        &[("Authorization", &auth), ("DPoP", &bad)],
        Some(&request),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    bad = key.proof(Claims::post(&par_url, None));
    let other_jkt = other.jkt();
    let mut with_jkt = request.to_vec();
    with_jkt.push(("dpop_jkt", &other_jkt));
    let (s, _, body) = call(
        "POST",
        &par_url,
        &[("Authorization", &auth), ("DPoP", &bad)],
        Some(&with_jkt),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert_eq!(w.db.count("SELECT COUNT(*) FROM pushed_requests").await, 0);

    // The proof's key binds the code.
    let proof = key.proof(Claims::post(&par_url, None));
    let (s, h, body) = call(
        "POST",
        &par_url,
        &[("Authorization", &auth), ("DPoP", &proof)],
        Some(&request),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let nonce = nonce_of(&h);
    let mut url = url::Url::parse(&format!("{}/authorize", w.issuer)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &c.id)
        .append_pair("request_uri", body["request_uri"].as_str().unwrap());
    let b = Browser::new();
    let page = b.get(url.as_str()).await;
    let done = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.redirect_params()["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", c.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let wrong = other.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &auth), ("DPoP", &wrong)],
        Some(&form),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let right = key.proof(Claims::post(&token_url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &token_url,
        &[("Authorization", &auth), ("DPoP", &right)],
        Some(&form),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        json!(key.jkt())
    );
}

/// A DPoP-bound access token is traded at the token-exchange grant only
/// with a proof by its key (RFC 9449 7): a stolen bound token cannot become
/// a bearer one.
#[tokio::test]
async fn a_bound_subject_token_is_exchanged_only_with_a_proof_by_its_key() {
    let w = World::new().await;
    let holder = w.confidential_client(&["--grant", "client_credentials"]);
    let exchanger = w.confidential_client(&[
        "--grant",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "--exchange-audience",
        "https://orders.example",
    ]);
    let url = format!("{}/token", w.issuer);
    let key = DpopKey::new(Alg::ES256);
    let form = [("grant_type", "client_credentials")];
    let auth = basic(&holder);
    // The nonce comes with the refusal of a proof without one.
    let first = key.proof(Claims::post(&url, None));
    let (_, h, _) = call(
        "POST",
        &url,
        &[("DPoP", &first), ("authorization", &auth)],
        Some(&form),
    )
    .await;
    let nonce = nonce_of(&h);
    let proof = key.proof(Claims::post(&url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &url,
        &[("DPoP", &proof), ("authorization", &auth)],
        Some(&form),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let bound = body["access_token"].as_str().unwrap().to_string();
    let exchange = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", bound.as_str()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("audience", "https://orders.example"),
    ];
    let auth = basic(&exchanger);
    // No proof, then a proof by another key: refused.
    let (s, _, body) = call("POST", &url, &[("authorization", &auth)], Some(&exchange)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(body["error_description"].as_str().unwrap().contains("DPoP"));
    let other = DpopKey::new(Alg::ES256);
    let proof = other.proof(Claims::post(&url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &url,
        &[("DPoP", &proof), ("authorization", &auth)],
        Some(&exchange),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // A proof by the token's own key: exchanged, and the new token is
    // bound to it too.
    let proof = key.proof(Claims::post(&url, Some(&nonce)));
    let (s, _, body) = call(
        "POST",
        &url,
        &[("DPoP", &proof), ("authorization", &auth)],
        Some(&exchange),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let claims = crate::harness::claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
}
