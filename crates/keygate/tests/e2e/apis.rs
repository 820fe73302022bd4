//! APIs (docs/apis.md): defined by the CLI and the admin API, named by
//! `audience` or `resource` at /authorize and /token; the access token's
//! `aud` is the API's identifier (RFC 9068) and its scopes only the API's
//! (for client_credentials, only those granted to the client).

use crate::admin_helpers::{Admin, ADMIN_TOKEN};
use crate::harness::*;
use crate::pages_helpers::*;
use serde_json::{json, Value};

const PAY: &str = "https://api.example.com/payments";
const PAY_ENC: &str = "https%3A%2F%2Fapi.example.com%2Fpayments";

/// ann's tenant `acme` with the API `PAY` (ES256, 10 minutes), a
/// confidential client granted `payments:read` of it, and a server with
/// an admin token.
async fn setup() -> (Setup, TestClient) {
    let s = Setup::new().await;
    let api = s.db.cli_json(
        &[
            "api",
            "create",
            "--tenant",
            "acme",
            "--identifier",
            PAY,
            "--name",
            "Payments",
            "--scope",
            "payments:read",
            "--scope",
            "payments:write",
            "--access-token-ttl",
            "10m",
            "--alg",
            "ES256",
        ],
        None,
    );
    assert_eq!(api["identifier"], PAY, "{api}");
    assert_eq!(api["scopes"], json!(["payments:read", "payments:write"]));
    let machine =
        s.db.client("acme", CALLBACK, &["--grant", "client_credentials"]);
    let granted = s.db.cli_json(
        &[
            "client",
            "grant",
            "--tenant",
            "acme",
            "--client",
            &machine.id,
            "--api",
            PAY,
            "--scope",
            "payments:read",
        ],
        None,
    );
    assert_eq!(granted["scopes"], json!(["payments:read"]), "{granted}");
    let server = Server::start_with(&s.db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    (Setup { server, ..s }, machine)
}

/// A client_credentials request of `machine` (HTTP Basic) with `extra`
/// parameters.
async fn machine_token(s: &Setup, machine: &TestClient, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let r = s
        .builder()
        .build()
        .unwrap()
        .post(format!("{}/token", s.path().issuer))
        .basic_auth(&machine.id, Some(machine.secret()))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_client_gets_tokens_for_an_api_with_only_the_scopes_it_was_granted() {
    let (s, machine) = setup().await;
    // Named by audience (Auth0) or resource (RFC 8707): the API's token.
    for name in ["audience", "resource"] {
        let (status, body) = machine_token(&s, &machine, &[(name, PAY)]).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["scope"], "payments:read", "everything granted");
        assert_eq!(body["expires_in"], 600, "the API's lifetime");
        let at = body["access_token"].as_str().unwrap();
        assert_eq!(
            crate::harness::header(at)["alg"],
            "ES256",
            "the API's algorithm"
        );
        assert_eq!(crate::harness::header(at)["typ"], "at+jwt");
        let c = claims(at);
        assert_eq!(c["aud"], PAY);
        assert_eq!(c["client_id"], machine.id);
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    }
    let (status, body) = machine_token(
        &s,
        &machine,
        &[("resource", PAY), ("scope", "payments:read")],
    )
    .await;
    assert_eq!((status, &body["scope"]), (200, &json!("payments:read")));
    // A scope the API defines but the client was not granted; one it does
    // not define; a person's scope.
    for scope in ["payments:write", "payments:admin", "openid"] {
        let (status, body) =
            machine_token(&s, &machine, &[("audience", PAY), ("scope", scope)]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{scope}"
        );
    }
    // Unknown, malformed or contradictory resources: invalid_target.
    for extra in [
        vec![("resource", "https://api.example.com/other")],
        vec![("resource", "payments")],
        vec![("resource", "https://api.example.com/payments#x")],
        vec![
            ("resource", PAY),
            ("audience", "https://api.example.com/other"),
        ],
    ] {
        let (status, body) = machine_token(&s, &machine, &extra).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{extra:?}: {body}"
        );
    }
    // Without one: the client's own token (aud = its id), as before.
    let (status, body) = machine_token(&s, &machine, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        machine.id
    );
    // A client granted nothing of the API gets nothing.
    let other =
        s.db.client("acme", CALLBACK, &["--grant", "client_credentials"]);
    let (status, body) = machine_token(&s, &other, &[("audience", PAY)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn a_person_authorizes_an_api_and_its_tokens_carry_its_audience() {
    let (s, _) = setup().await;
    let door = s.path();
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let mut params = request(&door.client, &challenge);
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", "openid email offline_access payments:write"));
    params.push(("resource", PAY));
    let page = sign_in(&b, &door, &url_with(&door.issuer, "/authorize", &params)).await;
    let code = assert_code(&page, &door, "with a resource");
    // Another resource at the token endpoint: refused, the code kept.
    let exchange = |resource: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", door.client.redirect_uri.as_str()),
            ("client_id", door.client.id.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = &s;
        let issuer = door.issuer.clone();
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            s.token(&issuer, &form).await
        }
    };
    let (status, body) = exchange(Some("https://api.example.com/other")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, body) = exchange(Some(PAY)).await;
    assert_eq!(status, 200, "{body}");
    let at = body["access_token"].as_str().unwrap();
    let c = claims(at);
    assert_eq!(c["aud"], PAY);
    assert_eq!(c["sub"], door.sub);
    assert!(
        c["scope"].as_str().unwrap().contains("payments:write"),
        "{c}"
    );
    assert_eq!(body["expires_in"], 600);
    // The id_token is still for the client.
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["aud"],
        door.client.id
    );
    // Userinfo accepts the token (it carries openid).
    let info = reqwest::Client::new()
        .get(format!("{}/userinfo", door.issuer))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    // A refreshed token is for the same API.
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", &door.client.id),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], PAY);

    // At /authorize: a scope the API does not define, an unknown API.
    for (extra, error) in [
        (
            vec![("resource", PAY), ("scope", "openid payments:admin")],
            "invalid_scope",
        ),
        (
            vec![("resource", "https://api.example.com/other")],
            "invalid_target",
        ),
        (vec![("audience", "not a uri")], "invalid_target"),
        (vec![("scope", "openid payments:read")], "invalid_scope"),
    ] {
        let (_, challenge) = pkce();
        let mut params = request(&door.client, &challenge);
        for (k, v) in &extra {
            params.retain(|(n, _)| n != k);
            params.push((k, v));
        }
        let page = b.get(&url_with(&door.issuer, "/authorize", &params)).await;
        let p = assert_redirect(&page, &door, error);
        assert_eq!(p["error"], error, "{extra:?}");
    }
}

#[tokio::test]
async fn apis_and_client_grants_are_managed_through_the_admin_api() {
    let (s, machine) = setup().await;
    let admin = Admin::new(&s.server, Some(ADMIN_TOKEN));
    let list = admin.get("/tenants/acme/apis").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"][0]["identifier"], PAY);
    let one = admin.get(&format!("/tenants/acme/apis/{PAY_ENC}")).await;
    assert_eq!(
        (one.status, &one.body["signing_alg"]),
        (200, &json!("ES256"))
    );
    assert_eq!(one.body["access_token_ttl"], 600);

    // Create: checked like the CLI; a taken identifier is a conflict.
    let created = admin
        .post(
            "/tenants/acme/apis",
            json!({"identifier": "urn:acme:ledger", "scopes": ["ledger:read"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["name"], "urn:acme:ledger");
    let again = admin
        .post(
            "/tenants/acme/apis",
            json!({"identifier": "urn:acme:ledger"}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    for bad in [
        json!({"identifier": "ledger"}),
        json!({"identifier": "urn:x", "scopes": ["openid"]}),
        json!({"identifier": "urn:x", "signing_alg": "none"}),
        json!({"identifier": "urn:x", "surprise": true}),
    ] {
        let r = admin.post("/tenants/acme/apis", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(s.db.count("SELECT COUNT(*) FROM apis").await, 2);

    // Grants: set, list, refused for scopes the API lacks, removed.
    let path = format!("/tenants/acme/clients/{}/grants", machine.id);
    let r = admin
        .call(
            reqwest::Method::PUT,
            &path,
            Some(json!({"api": "urn:acme:ledger", "scopes": ["ledger:read"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = admin
        .call(
            reqwest::Method::PUT,
            &path,
            Some(json!({"api": "urn:acme:ledger", "scopes": ["ledger:write"]})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let grants = admin.get(&path).await;
    assert_eq!(
        grants.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        grants.body
    );
    let (status, body) = machine_token(&s, &machine, &[("audience", "urn:acme:ledger")]).await;
    assert_eq!(
        (status, &body["scope"]),
        (200, &json!("ledger:read")),
        "{body}"
    );

    // The API no longer defines payments:read: the grant loses it.
    let r = admin
        .patch(
            &format!("/tenants/acme/apis/{PAY_ENC}"),
            json!({"scopes": ["payments:write"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (status, body) = machine_token(&s, &machine, &[("audience", PAY)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );

    // Deleted: naming it is invalid_target; its grants are gone.
    let r = admin.delete(&format!("/tenants/acme/apis/{PAY_ENC}")).await;
    assert_eq!(r.status, 204);
    let (status, body) = machine_token(&s, &machine, &[("audience", PAY)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    assert_eq!(
        s.db.count(
            "SELECT COUNT(*) FROM client_grants WHERE api = 'https://api.example.com/payments'"
        )
        .await,
        0
    );
    let r = admin
        .delete(&format!("{path}/{}", "urn%3Aacme%3Aledger"))
        .await;
    assert_eq!(r.status, 204);
    let r = admin.get(&format!("/tenants/acme/apis/{PAY_ENC}")).await;
    assert_eq!(r.status, 404);
    let r = admin.get("/tenants/nope/apis").await;
    assert_eq!(r.status, 404);
}

#[test]
fn the_cli_refuses_bad_apis_and_grants_and_writes_nothing() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let public = db.client("acme", CALLBACK, &["--public"]);
    for (args, says) in [
        (
            vec![
                "api",
                "create",
                "--tenant",
                "acme",
                "--identifier",
                "payments",
            ],
            "identifier",
        ),
        (
            vec![
                "api",
                "create",
                "--tenant",
                "acme",
                "--identifier",
                PAY,
                "--scope",
                "openid",
            ],
            "scope",
        ),
        (
            vec![
                "api",
                "create",
                "--tenant",
                "acme",
                "--identifier",
                PAY,
                "--alg",
                "HS256",
            ],
            "alg",
        ),
        (
            vec!["api", "create", "--tenant", "nope", "--identifier", PAY],
            "nope",
        ),
    ] {
        let out = db.cli(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    db.cli_json(
        &[
            "api",
            "create",
            "--tenant",
            "acme",
            "--identifier",
            PAY,
            "--scope",
            "p:r",
        ],
        None,
    );
    let out = db.cli(
        &["api", "create", "--tenant", "acme", "--identifier", PAY],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "a taken identifier");
    let out = db.cli(
        &[
            "client", "grant", "--tenant", "acme", "--client", &public.id, "--api", PAY, "--scope",
            "p:r",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "a public client");
    let shown = db.cli_json(&["api", "show", "--tenant", "acme", PAY], None);
    assert_eq!(shown["scopes"], json!(["p:r"]));
    let updated = db.cli_json(
        &[
            "api", "update", "--tenant", "acme", PAY, "--scope", "p:w", "--name", "Pay",
        ],
        None,
    );
    assert_eq!(
        (&updated["scopes"], &updated["name"]),
        (&json!(["p:w"]), &json!("Pay"))
    );
    let listed = db.cli_json(&["api", "list", "--tenant", "acme"], None);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    db.cli_json(&["api", "delete", "--tenant", "acme", PAY], None);
    let out = db.cli(&["api", "show", "--tenant", "acme", PAY], None);
    assert_eq!(out.status.code(), Some(2));
}
