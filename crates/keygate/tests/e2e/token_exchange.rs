//! Token exchange (RFC 8693, docs/token-exchange.md): a real client
//! library (openid-client's `genericGrantRequest`, in
//! `tests/browser/token_exchange.mjs`) exchanges a person's access token
//! for a token of an API, as an impersonation and as a delegation; over
//! HTTP, every refusal: a token of another tenant, an expired or revoked
//! subject token, an audience the client was not registered for, a public
//! client, a client without the grant, a scope wider than the subject
//! token's, token types that are not exchanged. Nothing is stored.

use crate::harness::*;
use crate::real_clients::run_script;
use crate::token_helpers::*;
use serde_json::Value;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The API the person's token is for.
const GATEWAY: &str = "https://gateway.example.com";
/// The API the service exchanges it for (its own token lifetime: 5 minutes).
const ORDERS: &str = "https://orders.example.com";
/// An audience that is no API.
const LEGACY: &str = "https://legacy.example.com";

struct Setup {
    world: World,
    /// The person's application.
    web: TestClient,
    /// The back-end service allowed to exchange for ORDERS and LEGACY.
    svc: TestClient,
}

fn api(db: &Database, identifier: &str, extra: &[&str]) {
    let mut args = vec![
        "api",
        "create",
        "--tenant",
        "acme",
        "--identifier",
        identifier,
        "--scope",
        "orders:read",
        "--scope",
        "orders:write",
    ];
    args.extend(extra);
    db.cli_json(&args, None);
}

async fn setup() -> Setup {
    let world = World::new().await;
    api(&world.db, GATEWAY, &[]);
    api(&world.db, ORDERS, &["--access-token-ttl", "5m"]);
    let web = world.confidential_client(&[]);
    let svc = world.confidential_client(&[
        "--grant",
        &format!("client_credentials,{GRANT}"),
        "--exchange-audience",
        ORDERS,
        "--exchange-audience",
        LEGACY,
    ]);
    Setup { world, web, svc }
}

/// The person's access token for GATEWAY, through the web application.
async fn person_token(s: &Setup, scope: &str) -> String {
    let (verifier, challenge) = pkce();
    let url = auth_url(
        &s.world.issuer,
        &s.web,
        scope,
        Some((&challenge, "S256")),
        Some("n-1"),
    );
    let url = format!("{url}&resource={}", urlencoding(GATEWAY));
    let code = code_at(&Browser::new(), &url).await;
    let tokens = exchange(&s.world.issuer, &s.web, &code, Some(&verifier))
        .await
        .tokens();
    tokens["access_token"].as_str().unwrap().to_string()
}

/// A token exchange by `client` with `form` (grant_type added).
async fn exchange_as(issuer: &str, client: &TestClient, form: &[(&str, &str)]) -> Reply {
    let mut all = vec![("grant_type", GRANT)];
    all.extend_from_slice(form);
    let basic = client.secret.as_deref().map(|s| (client.id.as_str(), s));
    if basic.is_none() {
        all.push(("client_id", &client.id));
    }
    post_form(&format!("{issuer}/token"), basic, &all).await
}

/// The service's own token (client_credentials): an actor token.
async fn own_token(issuer: &str, client: &TestClient) -> String {
    let r = post_form(
        &format!("{issuer}/token"),
        Some((&client.id, client.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    r.tokens()["access_token"].as_str().unwrap().to_string()
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The token with one character of its signature changed.
fn tampered(jwt: &str) -> String {
    let mut chars: Vec<char> = jwt.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

async fn stored_rows(db: &Database) -> i64 {
    db.count("SELECT COUNT(*) FROM grants").await
        + db.count("SELECT COUNT(*) FROM refresh_tokens").await
        + db.count("SELECT COUNT(*) FROM revoked_jtis").await
}

/// The form with another subject token.
fn with_subject(form: Vec<(&'static str, String)>, token: String) -> Vec<(&'static str, String)> {
    form.into_iter()
        .map(|(k, v)| {
            if k == "subject_token" {
                (k, token.clone())
            } else {
                (k, v)
            }
        })
        .collect()
}

fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
}

/// openid-client exchanges a person's token: impersonation (no `act`),
/// delegation (`act` names the service), and a delegated token exchanged
/// again (the actors nest). The issued tokens are ORDERS's: its `aud`, its
/// lifetime, only the scope asked for; the person stays the `sub`.
#[tokio::test]
async fn openid_client_exchanges_tokens_by_impersonation_and_delegation() {
    let s = setup().await;
    let issuer = s.world.issuer.clone();
    let subject = person_token(&s, "openid email orders:read orders:write").await;
    let person = claims(&subject);
    assert_eq!(person["aud"], GATEWAY);
    let before = stored_rows(&s.world.db).await;

    let steps = run_script(
        "token_exchange.mjs",
        &[
            ("KEYGATE_ISSUER", &issuer),
            ("KEYGATE_CLIENT_ID", &s.svc.id),
            ("KEYGATE_CLIENT_SECRET", s.svc.secret()),
            ("KEYGATE_SUBJECT_TOKEN", &subject),
            ("KEYGATE_AUDIENCE", ORDERS),
            ("KEYGATE_SCOPE", "orders:read"),
        ],
        &s.world.server,
    )
    .await;

    let discovered = step(&steps, "discovered");
    assert!(
        discovered["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == GRANT),
        "{discovered}"
    );
    let actor = &step(&steps, "actor")["claims"];
    assert_eq!(actor["sub"], s.svc.id.as_str());

    for name in ["impersonation", "delegation", "nested"] {
        let a = step(&steps, name);
        assert!(
            a["token_type"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("bearer"),
            "{name}: {a}"
        );
        assert_eq!(a["issued_token_type"], AT, "{name}");
        assert_eq!(a["has_refresh_token"], false, "{name}");
        assert_eq!(a["has_id_token"], false, "{name}");
        assert_eq!(a["scope"], "orders:read", "{name}");
        let c = &a["claims"];
        assert_eq!(c["iss"], issuer.as_str(), "{name}");
        assert_eq!(
            c["sub"], person["sub"],
            "{name}: the person stays the subject"
        );
        assert_eq!(c["aud"], ORDERS, "{name}");
        assert_eq!(c["scope"], "orders:read", "{name}");
        assert_eq!(c["client_id"], s.svc.id.as_str(), "{name}");
        assert_eq!(c["auth_time"], person["auth_time"], "{name}");
        let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
        assert_eq!(a["expires_in"], lifetime, "{name}");
        if name == "nested" {
            // Never past its subject's (the delegated token's) expiry.
            let delegated = &step(&steps, "delegation")["claims"];
            assert!(c["exp"].as_i64() <= delegated["exp"].as_i64(), "{c}");
            assert!((290..=300).contains(&lifetime), "{c}");
        } else {
            assert_eq!(lifetime, 300, "{name}: the API's lifetime");
        }
        // Under the person's grant, so that revoking it reaches this token.
        let grant = person["jti"].as_str().unwrap().split('.').next().unwrap();
        assert!(
            c["jti"].as_str().unwrap().starts_with(&format!("{grant}.")),
            "{name}: {c}"
        );
        verify_rs256(
            &format!("{issuer}/jwks"),
            a["access_token"].as_str().unwrap(),
        )
        .await;
    }
    let svc = s.svc.id.as_str();
    assert!(
        step(&steps, "impersonation")["claims"].get("act").is_none(),
        "an impersonation names no actor"
    );
    assert_eq!(
        step(&steps, "delegation")["claims"]["act"],
        serde_json::json!({"sub": svc})
    );
    assert_eq!(
        step(&steps, "nested")["claims"]["act"],
        serde_json::json!({"sub": svc, "act": {"sub": svc}}),
        "the new actor outermost, the prior one nested"
    );
    let refused = step(&steps, "refused");
    assert_eq!(refused["error"], "invalid_target", "{refused}");
    assert_eq!(refused["status"], 400, "{refused}");

    // Introspection shows the actor to the client the token was issued to.
    let delegated = step(&steps, "delegation")["access_token"].as_str().unwrap();
    let i = introspect(&issuer, &s.svc, delegated).await;
    assert_eq!(i.json["active"], true, "{}", i.text);
    assert_eq!(i.json["act"], serde_json::json!({"sub": svc}));

    // Nothing was stored by the exchanges.
    assert_eq!(stored_rows(&s.world.db).await, before);

    // Revoking the person's grant (disabling them does) ends the exchanged tokens too.
    let sub = person["sub"].as_str().unwrap();
    s.world.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            "--sub",
            sub,
            "--disabled",
            "true",
        ],
        None,
    );
    let i = introspect(&issuer, &s.svc, delegated).await;
    assert_eq!(i.json["active"], false, "{}", i.text);
    assert_no_server_error(&s.world.server);
}

/// An exchange for an audience that is no API keeps the subject token's
/// scope (or narrows it) and the client's lifetime, capped by the subject
/// token's expiry.
#[tokio::test]
async fn an_audience_that_is_no_api() {
    let s = setup().await;
    let issuer = &s.world.issuer;
    let subject = person_token(&s, "openid email orders:read").await;
    let r = exchange_as(
        issuer,
        &s.svc,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", LEGACY),
        ],
    )
    .await;
    let t = r.tokens();
    assert_eq!(t["issued_token_type"], AT);
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], LEGACY);
    assert_eq!(c["scope"], "openid email orders:read");
    assert!(c.get("act").is_none());
    let subject_exp = claims(&subject)["exp"].as_i64().unwrap();
    assert!(c["exp"].as_i64().unwrap() <= subject_exp, "{c}");
    // resource works as audience does.
    let r = exchange_as(
        issuer,
        &s.svc,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("resource", LEGACY),
            ("scope", "email"),
        ],
    )
    .await;
    assert_eq!(
        claims(r.tokens()["access_token"].as_str().unwrap())["scope"],
        "email"
    );
}

/// Every refusal is RFC 6749 JSON with RFC 8693 2.2.2's code, and stores nothing.
#[tokio::test]
async fn refusals() {
    let s = setup().await;
    let issuer = s.world.issuer.clone();
    let subject = person_token(&s, "openid email orders:read").await;
    let before = stored_rows(&s.world.db).await;
    let base = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("subject_token", subject.clone()),
            ("subject_token_type", AT.to_string()),
            ("audience", ORDERS.to_string()),
        ];
        for &(k, val) in extra {
            v.retain(|(n, _)| *n != k);
            v.push((k, val.to_string()));
        }
        v
    };
    let send_as = |client: TestClient, form: Vec<(&'static str, String)>| {
        let issuer = issuer.clone();
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            exchange_as(&issuer, &client, &pairs).await
        }
    };
    let says = |r: &Reply, text: &str| {
        let d = r.json["error_description"].as_str().unwrap_or("");
        assert!(d.contains(text), "expected '{text}' in: {}", r.text);
    };

    // An audience the client was not registered for; a malformed one.
    let r = send_as(
        s.svc.clone(),
        base(&[("audience", "https://elsewhere.example.com")]),
    )
    .await;
    r.assert_error(400, "invalid_target");
    says(&r, "https://elsewhere.example.com");
    let r = send_as(s.svc.clone(), base(&[("audience", "orders")])).await;
    r.assert_error(400, "invalid_target");
    // No target at all.
    let form: Vec<_> = base(&[])
        .into_iter()
        .filter(|(k, _)| *k != "audience")
        .collect();
    let r = send_as(s.svc.clone(), form).await;
    r.assert_error(400, "invalid_request");
    says(&r, "audience or resource");

    // A scope wider than the subject token's.
    let r = send_as(
        s.svc.clone(),
        base(&[("scope", "orders:read orders:write")]),
    )
    .await;
    r.assert_error(400, "invalid_scope");
    says(&r, "orders:write");

    // Not an access token, or not one of ours.
    let r = send_as(s.svc.clone(), base(&[("subject_token", "not-a-jwt")])).await;
    r.assert_error(400, "invalid_request");
    says(&r, "subject_token is not usable");
    let r = send_as(s.svc.clone(), with_subject(base(&[]), tampered(&subject))).await;
    r.assert_error(400, "invalid_request");

    // Token types that are not exchanged, and tokens that are not issued.
    let r = send_as(
        s.svc.clone(),
        base(&[(
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:refresh_token",
        )]),
    )
    .await;
    r.assert_error(400, "invalid_request");
    says(&r, "refresh tokens are not exchanged");
    let r = send_as(
        s.svc.clone(),
        base(&[(
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        )]),
    )
    .await;
    r.assert_error(400, "invalid_request");
    let r = send_as(
        s.svc.clone(),
        base(&[(
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:refresh_token",
        )]),
    )
    .await;
    r.assert_error(400, "invalid_request");
    says(&r, "only access tokens are issued");
    let r = send_as(s.svc.clone(), base(&[("actor_token", "x")])).await;
    r.assert_error(400, "invalid_request");
    says(&r, "actor_token_type");

    // An actor token issued to another client proves nothing about this one.
    let other = s
        .world
        .confidential_client(&["--grant", "client_credentials"]);
    let foreign_actor = own_token(&issuer, &other).await;
    let mut form = base(&[("actor_token_type", AT)]);
    form.push(("actor_token", foreign_actor));
    let r = send_as(s.svc.clone(), form).await;
    r.assert_error(400, "invalid_request");
    says(&r, "another client");

    // A public client; a confidential one without the grant.
    let public = s.world.public_client(&[]);
    let r = send_as(public, base(&[])).await;
    r.assert_error(400, "unauthorized_client");
    let r = send_as(s.web.clone(), base(&[])).await;
    r.assert_error(400, "unauthorized_client");
    says(&r, GRANT);

    // A token of another tenant: its keys are not this tenant's.
    s.world.db.tenant("other", &[]);
    let stranger = s.world.db.client(
        "other",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials"],
    );
    let foreign = own_token(&s.world.server.issuer("other"), &stranger).await;
    let r = send_as(s.svc.clone(), with_subject(base(&[]), foreign)).await;
    r.assert_error(400, "invalid_request");
    says(&r, "subject_token is not usable");

    // A revoked subject token (RFC 7009 at /revoke by its client).
    let revoked = person_token(&s, "openid orders:read").await;
    let rv = post_form(
        &format!("{issuer}/revoke"),
        Some((&s.web.id, s.web.secret())),
        &[("token", &revoked)],
    )
    .await;
    assert_eq!(rv.status, 200, "{}", rv.text);
    let r = send_as(s.svc.clone(), with_subject(base(&[]), revoked)).await;
    r.assert_error(400, "invalid_request");
    says(&r, "revoked");

    // An expired subject token: a client whose tokens live a second.
    let brief =
        s.world
            .confidential_client(&["--grant", "client_credentials", "--access-token-ttl", "1s"]);
    let expiring = own_token(&issuer, &brief).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = send_as(s.svc.clone(), with_subject(base(&[]), expiring)).await;
    r.assert_error(400, "invalid_request");
    says(&r, "expired");

    // Refusals stored nothing (the revocation above aside).
    assert_eq!(
        stored_rows(&s.world.db).await,
        before + 2,
        "the grant of the revoked token's sign-in, and its revoked jti"
    );
    assert_no_server_error(&s.world.server);
}

/// The audiences are provisioned by the CLI and the admin API alike: set,
/// shown, replaced, removed; a value that is no absolute URI, and the grant
/// for a public client, are refused with nothing written.
#[tokio::test]
async fn audiences_are_provisioned() {
    let s = setup().await;
    let db = &s.world.db;
    let shown = db.cli_json(&["client", "show", "--tenant", "acme", &s.svc.id], None);
    assert_eq!(
        shown["exchange_audiences"],
        serde_json::json!([ORDERS, LEGACY])
    );
    assert!(shown["grant_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == GRANT));
    let updated = db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &s.svc.id,
            "--exchange-audience",
            GATEWAY,
        ],
        None,
    );
    assert_eq!(updated["exchange_audiences"], serde_json::json!([GATEWAY]));
    let cleared = db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &s.svc.id,
            "--no-exchange-audiences",
        ],
        None,
    );
    assert_eq!(cleared["exchange_audiences"], serde_json::json!([]));

    for bad in [
        vec!["--exchange-audience", "orders"],
        vec!["--exchange-audience", "https://a.example.com/#x"],
        vec!["--public", "--grant", GRANT],
    ] {
        let mut args = vec![
            "client", "create", "--tenant", "acme", "--name", "Bad", "--grant", GRANT,
        ];
        if bad[0] == "--public" {
            args.truncate(6);
        }
        args.extend(bad.iter().copied());
        let out = db.cli(&args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty());
    }
}

/// The admin API's client field `exchange_audiences`: set with the grant
/// by `POST`, replaced by `PATCH`, refused when malformed or for a public
/// client, and used at once by the token endpoint.
#[tokio::test]
async fn the_admin_api_sets_exchange_audiences() {
    use crate::admin_helpers::{admin_world, assert_error};
    let (w, admin) = admin_world().await;
    let created = admin
        .post(
            "/tenants/acme/clients",
            serde_json::json!({
                "name": "Orders service",
                "grant_types": ["client_credentials", GRANT],
                "exchange_audiences": [LEGACY],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body["exchange_audiences"],
        serde_json::json!([LEGACY])
    );
    let id = created.body["client_id"].as_str().unwrap().to_string();
    let svc = TestClient {
        id: id.clone(),
        secret: created.body["client_secret"].as_str().map(str::to_string),
        redirect_uri: String::new(),
    };
    let subject = own_token(&w.issuer, &svc).await;
    let form = [
        ("subject_token", subject.as_str()),
        ("subject_token_type", AT),
        ("audience", ORDERS),
    ];
    exchange_as(&w.issuer, &svc, &form)
        .await
        .assert_error(400, "invalid_target");
    let patched = admin
        .patch(
            &format!("/tenants/acme/clients/{id}"),
            serde_json::json!({"exchange_audiences": [ORDERS]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        patched.body["exchange_audiences"],
        serde_json::json!([ORDERS])
    );
    let t = exchange_as(&w.issuer, &svc, &form).await.tokens();
    assert_eq!(claims(t["access_token"].as_str().unwrap())["aud"], ORDERS);

    for bad in [
        serde_json::json!({"name": "x", "grant_types": [GRANT], "exchange_audiences": ["orders"]}),
        serde_json::json!({"name": "x", "public": true, "grant_types": [GRANT]}),
    ] {
        let a = admin.post("/tenants/acme/clients", bad.clone()).await;
        assert_error(&a, 400, "invalid_request");
    }
    let a = admin
        .patch(
            &format!("/tenants/acme/clients/{id}"),
            serde_json::json!({"exchange_audiences": ["https://a.example.com/#f"]}),
        )
        .await;
    assert_error(&a, 400, "invalid_request");
    assert_no_server_error(&w.server);
}
