//! Audit events (docs/events.md): real actions at the hosted pages, the
//! token endpoint, the admin API and the CLI, then `GET /admin/v1/events`
//! shows each with its type, actor, client IP and subject, and never a
//! secret; the list's filters, paging and refusals.

use crate::account_page::submit_to;
use crate::admin_helpers::{Admin, ADMIN_TOKEN};
use crate::harness::*;
use crate::mfa_totp::{code, enrol, password_step, unix_now};
use crate::pages_helpers::*;
use serde_json::{json, Value};

/// A `Setup` whose server also has the admin token (and `env`).
async fn setup(env: &[(&str, &str)]) -> (Setup, Admin) {
    let s = Setup::new().await;
    let mut all = vec![("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)];
    all.extend_from_slice(env);
    let server = Server::start_with(&s.db, &all).await;
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));
    (Setup { server, ..s }, admin)
}

/// Every event `query` lists (first page, up to 100), newest first.
async fn events(admin: &Admin, query: &str) -> Vec<Value> {
    let a = admin.get(&format!("/events?limit=100&{query}")).await;
    assert_eq!(a.status, 200, "{query}: {}", a.body);
    a.body["items"].as_array().unwrap().clone()
}

/// The events of `kind` in `tenant`, newest first.
async fn of(admin: &Admin, tenant: &str, kind: &str) -> Vec<Value> {
    events(admin, &format!("tenant={tenant}&type={kind}")).await
}

/// Waits (up to 10 s) for an event of `kind` in `tenant`: some are written
/// after the answer (a reset request, off the request's path).
async fn eventually(admin: &Admin, tenant: &str, kind: &str) -> Vec<Value> {
    for _ in 0..100 {
        let found = of(admin, tenant, kind).await;
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {kind} event in {tenant}");
}

/// Checks an event's who, where and about what.
fn assert_event(e: &Value, actor: &str, ip: Option<&str>, subject: Option<&str>) {
    assert_eq!(e["actor"], json!(actor), "{e}");
    assert_eq!(e["ip"], json!(ip), "{e}");
    assert_eq!(e["subject"], json!(subject), "{e}");
    let at = e["at"].as_i64().unwrap();
    assert!((at - now()).abs() < 120, "{e}");
}

/// None of `secrets` appears anywhere in any event.
async fn assert_no_secret(admin: &Admin, secrets: &[&str]) {
    let all = admin.get("/events?limit=100").await.body.to_string();
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!all.contains(s), "{s} is in the events: {all}");
    }
}

#[tokio::test]
async fn sign_ins_failures_and_second_steps_are_recorded_without_secrets() {
    let (s, admin) = setup(&[]).await;
    let door = s.path();
    let user = format!("user:{}", door.sub);

    // A wrong password: anonymous, from 127.0.0.1, about nobody, no e-mail.
    let b = s.browser();
    let (_, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    let page = b.get(&url).await;
    let wrong = b
        .submit(&page, &[("email", EMAIL), ("password", "not the password")])
        .await;
    assert_eq!(wrong.status, 401);
    let failed = of(&admin, "acme", "user.sign_in_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_event(&failed[0], "anonymous", Some("127.0.0.1"), None);
    assert_eq!(
        failed[0]["detail"],
        json!({"reason": "invalid_credentials"})
    );
    assert!(!failed[0].to_string().contains(EMAIL));

    // The right one: signed in by the password, for the client.
    let (auth_code, verifier) = code_at(&s.browser(), &door).await;
    let signed = of(&admin, "acme", "user.signed_in").await;
    assert_eq!(signed.len(), 1, "{signed:?}");
    assert_event(&signed[0], &user, Some("127.0.0.1"), Some(&user));
    assert_eq!(
        signed[0]["detail"],
        json!({"amr": ["pwd"], "client_id": door.client.id})
    );
    let (status, tokens) = s.exchange(&door, &auth_code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");

    // An authenticator app added on the account page (which signs in too).
    let owner = s.browser();
    let secret = enrol(&s, &owner, &door).await;
    let added = of(&admin, "acme", "user.factor_added").await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_event(&added[0], &user, Some("127.0.0.1"), Some(&user));
    assert_eq!(added[0]["detail"]["method"], "otp");
    let account = of(&admin, "acme", "user.signed_in").await;
    assert_eq!(
        account[0]["detail"]["client_id"],
        Value::Null,
        "{account:?}"
    );

    // The second step: a wrong code, then the right one.
    let b = s.browser();
    let (step, verifier) = password_step(&b, &door).await;
    let refused = b.submit(&step, &[("code", "000000")]).await;
    assert_eq!(refused.status, 401);
    let next = code(&secret, unix_now() + 30);
    let done = b.submit(&refused, &[("code", &next)]).await;
    let auth_code = assert_code(&done, &door, "second step");
    let mfa_failed = of(&admin, "acme", "user.mfa_failed").await;
    assert_eq!(mfa_failed.len(), 1, "{mfa_failed:?}");
    assert_event(&mfa_failed[0], &user, Some("127.0.0.1"), Some(&user));
    assert_eq!(
        mfa_failed[0]["detail"],
        json!({"method": "otp", "reason": "invalid_code"})
    );
    let passed = of(&admin, "acme", "user.mfa_passed").await;
    assert_eq!(passed.len(), 1, "{passed:?}");
    assert_eq!(passed[0]["detail"], json!({"method": "otp"}));
    let signed = of(&admin, "acme", "user.signed_in").await;
    let amr = signed[0]["detail"]["amr"].as_array().unwrap();
    assert!(amr.contains(&json!("otp")), "{signed:?}");
    let (status, _) = s.exchange(&door, &auth_code, &verifier).await;
    assert_eq!(status, 200);

    // The factor removed on the account page.
    let page = owner.get(&format!("{}/account", door.issuer)).await;
    let removed = submit_to(&owner, &page, "/account/totp/remove", &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let gone = of(&admin, "acme", "user.factor_removed").await;
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0]["detail"]["method"], "otp");

    // Nothing of the other tenant, and no secret anywhere.
    let people = "type=user.signed_in,user.sign_in_failed,user.mfa_passed,user.mfa_failed";
    assert!(events(&admin, &format!("tenant=default&{people}"))
        .await
        .is_empty());
    assert_no_secret(
        &admin,
        &[
            PASSWORD,
            "not the password",
            &next,
            &auth_code,
            tokens["refresh_token"].as_str().unwrap(),
            tokens["access_token"].as_str().unwrap(),
        ],
    )
    .await;
}

#[tokio::test]
async fn blocked_sign_ins_are_recorded_as_too_many_attempts() {
    let (s, admin) = setup(&[("KEYGATE_SIGNIN_MAX_FAILURES", "2")]).await;
    let door = s.path();
    let (_, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    let b = s.browser();
    let mut last = 0;
    for _ in 0..3 {
        let page = b.get(&url).await;
        last = b
            .submit(&page, &[("email", EMAIL), ("password", "wrong wrong")])
            .await
            .status;
    }
    assert_eq!(last, 429);
    let failed = of(&admin, "acme", "user.sign_in_failed").await;
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "too_many_attempts",
            "invalid_credentials",
            "invalid_credentials"
        ]
    );
}

#[tokio::test]
async fn reuse_of_a_rotated_refresh_token_is_recorded_against_the_client() {
    let (s, admin) = setup(&[]).await;
    let door = s.path();
    let (auth_code, verifier) = code_at(&s.browser(), &door).await;
    let (_, tokens) = s.exchange(&door, &auth_code, &verifier).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let refresh = |t: String| {
        let (s, door) = (&s, &door);
        async move {
            s.token(
                &door.issuer,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &t),
                    ("client_id", &door.client.id),
                ],
            )
            .await
        }
    };
    let (status, rotated) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{rotated}");
    assert!(of(&admin, "acme", "token.reuse_detected").await.is_empty());
    let (status, body) = refresh(first.clone()).await;
    assert_eq!(status, 400, "{body}");
    let reuse = of(&admin, "acme", "token.reuse_detected").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    let user = format!("user:{}", door.sub);
    assert_event(
        &reuse[0],
        &format!("client:{}", door.client.id),
        Some("127.0.0.1"),
        Some(&user),
    );
    assert_eq!(reuse[0]["detail"]["credential"], "refresh_token");
    assert_eq!(reuse[0]["detail"]["grant_revoked"], true);
    // The family is revoked: the rotated token is refused too.
    let (status, _) = refresh(rotated["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, 400);

    // A code used twice revokes its grant as well.
    let (auth_code, verifier) = code_at(&s.browser(), &door).await;
    assert_eq!(s.exchange(&door, &auth_code, &verifier).await.0, 200);
    assert_eq!(s.exchange(&door, &auth_code, &verifier).await.0, 400);
    let reuse = of(&admin, "acme", "token.reuse_detected").await;
    assert_eq!(reuse.len(), 2, "{reuse:?}");
    assert_eq!(reuse[0]["detail"]["credential"], "authorization_code");

    assert_no_secret(
        &admin,
        &[
            &first,
            rotated["refresh_token"].as_str().unwrap(),
            &auth_code,
        ],
    )
    .await;
}

#[tokio::test]
async fn consents_given_and_revoked_are_recorded() {
    let (s, admin) = setup(&[]).await;
    let third =
        s.db.client("acme", CALLBACK, &["--public", "--third-party"]);
    let door = Door {
        client: third.clone(),
        ..s.path()
    };
    let b = s.browser();
    let (_, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    let page = sign_in(&b, &door, &url).await;
    assert_eq!(page.status, 200, "the consent page: {}", page.body);
    let allowed = b.submit(&page, &[("decision", "allow")]).await;
    assert_code(&allowed, &door, "allowed");
    let user = format!("user:{}", door.sub);
    let granted = of(&admin, "acme", "user.consent_granted").await;
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_event(&granted[0], &user, Some("127.0.0.1"), Some(&user));
    assert_eq!(granted[0]["detail"]["client_id"], json!(third.id));

    // Revoked through the admin API: by the token, about the person.
    let a = admin
        .delete(&format!(
            "/tenants/acme/users/{}/consents/{}",
            door.sub, third.id
        ))
        .await;
    assert!(a.status < 300, "{}", a.body);
    let revoked = of(&admin, "acme", "user.consent_revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_event(
        &revoked[0],
        "admin-token:static",
        Some("127.0.0.1"),
        Some(&user),
    );
    let change = of(&admin, "acme", "admin.deleted").await;
    assert_eq!(change[0]["detail"]["resource"], "consent");
}

#[tokio::test]
async fn reset_requests_say_nothing_of_the_address_and_resets_are_recorded() {
    let smtp = crate::mail::SmtpServer::started().await;
    let env: Vec<(String, String)> = smtp.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, admin) = setup(&env).await;
    let door = s.path();
    let b = s.browser();
    let forgot = |email: &'static str| {
        let (b, door) = (&b, &door);
        async move {
            let url = format!("{}/forgot-password", door.issuer);
            let page = b.get(&url).await;
            assert_eq!(page.status, 200, "{}", page.body);
            let done = b.submit(&page, &[("email", email)]).await;
            assert_eq!(done.status, 200, "{}", done.body);
        }
    };
    forgot("nobody@example.com").await;
    let asked = eventually(&admin, "acme", "user.password_reset_requested").await;
    assert_event(&asked[0], "anonymous", Some("127.0.0.1"), None);
    forgot(EMAIL).await;
    let link = smtp.wait_for(1, 20).await[0].link();
    let asked = of(&admin, "acme", "user.password_reset_requested").await;
    assert_eq!(asked.len(), 2, "{asked:?}");
    let user = format!("user:{}", door.sub);
    assert_event(&asked[0], "anonymous", Some("127.0.0.1"), Some(&user));
    assert!(!asked[0].to_string().contains(EMAIL));
    assert!(!asked[1].to_string().contains("nobody@"));

    let new_password = "a brand new passphrase";
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let set = b
        .submit(
            &page,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert!(set.status < 400, "{}", set.body);
    let reset = of(&admin, "acme", "user.password_reset").await;
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert_event(&reset[0], &user, Some("127.0.0.1"), Some(&user));
    let token = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.to_string())
        .unwrap();
    assert_no_secret(&admin, &[new_password, &token]).await;
}

#[tokio::test]
async fn admin_api_changes_are_recorded_with_their_token_and_field_names() {
    let (s, admin) = setup(&[]).await;
    let created = admin
        .post(
            "/tenants/acme/clients",
            json!({"name": "Billing", "redirect_uris": ["https://billing.example/cb"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["client_id"]
        .as_str()
        .or(created.body["id"].as_str())
        .unwrap()
        .to_string();
    let secret = created.body["client_secret"].as_str().unwrap().to_string();
    let subject = format!("client:{id}");
    // (The setup's user and client were made by the CLI.)
    let c = events(
        &admin,
        "tenant=acme&type=admin.created&actor=admin-token:static",
    )
    .await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_event(
        &c[0],
        "admin-token:static",
        Some("127.0.0.1"),
        Some(&subject),
    );
    assert_eq!(
        c[0]["detail"],
        json!({"resource": "client", "id": id, "fields": ["name", "redirect_uris"]})
    );

    // The client works at the token endpoint with its secret.
    let rotated = admin
        .post(&format!("/tenants/acme/clients/{id}/secret"), json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["client_secret"].as_str().unwrap().to_string();
    let patched = admin
        .patch(
            &format!("/tenants/acme/clients/{id}"),
            json!({"name": "Billing 2"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let u = of(&admin, "acme", "admin.updated").await;
    assert_eq!(u.len(), 2, "{u:?}");
    assert_eq!(
        u[0]["detail"],
        json!({"resource": "client", "id": id, "fields": ["name"]})
    );
    assert_eq!(u[1]["detail"]["secret"], "rotated");
    assert_event(
        &u[1],
        "admin-token:static",
        Some("127.0.0.1"),
        Some(&subject),
    );

    // A stored token is named by its id; the CLI that made it is `cli`.
    let made = s.db.cli_json(&["admin-token", "create"], None);
    let (tid, token) = (
        made["id"].as_str().unwrap().to_string(),
        made["token"].as_str().unwrap().to_string(),
    );
    let by_cli = events(&admin, &format!("tenant=&subject=admin-token:{tid}")).await;
    assert_eq!(by_cli.len(), 1, "{by_cli:?}");
    let tsubject = format!("admin-token:{tid}");
    assert_event(&by_cli[0], "cli", None, Some(&tsubject));
    let other = Admin::new(&s.server, Some(&token));
    let deleted = other.delete(&format!("/tenants/acme/clients/{id}")).await;
    assert!(deleted.status < 300, "{}", deleted.body);
    let d = of(&admin, "acme", "admin.deleted").await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_event(&d[0], &tsubject, Some("127.0.0.1"), Some(&subject));

    // Refused writes and reads record nothing.
    let before = events(&admin, "").await.len();
    let bad = admin
        .patch(&format!("/tenants/acme/clients/{id}"), json!({"name": 5}))
        .await;
    assert!(bad.status >= 400);
    admin.get("/tenants/acme/clients").await;
    assert_eq!(events(&admin, "").await.len(), before);

    // A user made and factors reset through the API: the e-mail is fine in
    // an admin change; the password never.
    let made = admin
        .post(
            "/tenants/acme/users",
            json!({"email": "bob@example.com", "password": "bobs long password"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let sub = made.body["sub"].as_str().unwrap().to_string();
    let reset = admin
        .delete(&format!("/tenants/acme/users/{sub}/factors"))
        .await;
    assert!(reset.status < 300, "{}", reset.body);
    let removed = of(&admin, "acme", "user.factor_removed").await;
    assert_eq!(removed[0]["detail"], json!({"all": true}));
    assert_event(
        &removed[0],
        "admin-token:static",
        Some("127.0.0.1"),
        Some(&format!("user:{sub}")),
    );
    assert_no_secret(
        &admin,
        &[&secret, &new_secret, &token, "bobs long password"],
    )
    .await;
}

#[tokio::test]
async fn cli_changes_and_key_rotation_are_recorded_by_cli() {
    let (s, admin) = setup(&[]).await;
    let sub =
        s.db.user("acme", "carol@example.com", "carols long password");
    let subject = format!("user:{sub}");
    let c = events(&admin, &format!("type=admin.created&subject={subject}")).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_event(&c[0], "cli", None, Some(&subject));
    assert_eq!(c[0]["detail"]["resource"], "user");
    let rotated = s.db.cli_json(
        &["keys", "rotate", "--tenant", "acme", "--lead-time", "0s"],
        None,
    );
    let kid = rotated["kid"].as_str().unwrap();
    let k = of(&admin, "acme", "key.rotated").await;
    assert_eq!(k.len(), 1, "{k:?}");
    assert_event(&k[0], "cli", None, Some(&format!("key:{kid}")));
    let updated = s.db.cli_json(
        &[
            "user", "update", "--tenant", "acme", &sub, "--name", "Carol",
        ],
        None,
    );
    assert_eq!(updated["name"], "Carol", "{updated}");
    let u = of(&admin, "acme", "admin.updated").await;
    assert_eq!(u[0]["detail"]["fields"], json!(["name"]), "{u:?}");
    assert_no_secret(&admin, &["carols long password"]).await;
}

#[tokio::test]
async fn the_list_filters_pages_and_refuses_what_it_cannot_read() {
    let (s, admin) = setup(&[]).await;
    for i in 0..5 {
        let a = admin
            .post(
                "/tenants/acme/apis",
                json!({"identifier": format!("https://api{i}.example"), "name": format!("API {i}")}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    // (The setup's user and client were made by the CLI.)
    let base = events(&admin, "tenant=acme").await.len();
    let all = events(&admin, "tenant=acme&actor=admin-token:static").await;
    assert_eq!(all.len(), 5);
    let newest = all[0]["subject"].as_str().unwrap();
    assert_eq!(newest, "api:https://api4.example");
    let ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");

    // Pages of two, by `after` = the previous `next`.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let a = admin
            .get(&format!(
                "/events?tenant=acme&actor=admin-token:static&limit=2&after={after}"
            ))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        for e in a.body["items"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_string());
        }
        match a.body["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    // Filters: type (repeated or comma-separated), actor, subject, time.
    let (auth_code, _) = code_at(&s.browser(), &s.path()).await;
    assert!(!auth_code.is_empty());
    assert_eq!(events(&admin, "tenant=acme").await.len(), base + 1);
    let both = events(&admin, "tenant=acme&type=user.signed_in&type=admin.created").await;
    assert_eq!(both.len(), base + 1);
    let comma = events(&admin, "tenant=acme&type=user.signed_in,key.rotated").await;
    assert_eq!(comma.len(), 1);
    assert_eq!(comma[0]["type"], "user.signed_in");
    let by_token = events(&admin, "actor=admin-token:static").await;
    assert_eq!(by_token.len(), 5);
    let about = events(&admin, "subject=api:https%3A%2F%2Fapi2.example").await;
    assert_eq!(about.len(), 1);
    let t = all[0]["at"].as_i64().unwrap();
    assert_eq!(
        events(&admin, &format!("tenant=acme&since={}", t + 3600))
            .await
            .len(),
        0
    );
    assert_eq!(
        events(&admin, &format!("tenant=acme&until={}", t - 3600))
            .await
            .len(),
        0
    );
    assert_eq!(
        events(
            &admin,
            &format!("tenant=acme&since={}&until={}", t - 60, t + 60)
        )
        .await
        .len(),
        base + 1
    );
    assert!(events(&admin, "tenant=other").await.is_empty());

    // Refusals, in the API's error shape.
    for q in [
        "type=user.nope",
        "type=user.signed_in,nope",
        "limit=0",
        "limit=101",
        "limit=many",
        "since=yesterday",
        "until=1.5",
    ] {
        let a = admin.get(&format!("/events?{q}")).await;
        assert_eq!(a.status, 400, "{q}: {}", a.body);
        assert_eq!(a.body["error"], "invalid_request", "{q}");
    }
    let a = admin.get("/events?limit=100").await;
    assert_eq!(a.status, 200);
    assert_eq!(Admin::new(&s.server, None).get("/events").await.status, 401);
    let wrong = Admin::new(&s.server, Some("not-a-token-of-this-deployment-xx"));
    assert_eq!(wrong.get("/events").await.status, 401);

    // In the OpenAPI document, with its parameters.
    let doc = admin.get("/openapi.json").await.body;
    let op = &doc["paths"]["/admin/v1/events"]["get"];
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "tenant", "type", "actor", "subject", "since", "until", "limit", "after",
    ] {
        assert!(params.contains(&p), "{p}: {params:?}");
    }
    assert!(doc["components"]["schemas"]["EventList"].is_object());
}

#[tokio::test]
async fn retention_is_configured_and_the_cli_lists_events() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start_with(
        &db,
        &[
            ("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN),
            ("KEYGATE_EVENT_RETENTION", "2d"),
        ],
    )
    .await;
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));
    let a = admin
        .post(
            "/tenants/acme/apis",
            json!({"identifier": "https://api.example", "name": "API"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    // The server's events are kept two days; the CLI's 90 by default.
    let kept = |actor: &str, secs: i64| {
        format!("SELECT COUNT(*) FROM events WHERE actor = '{actor}' AND expires_at - at = {secs}")
    };
    assert_eq!(db.count(&kept("admin-token:static", 2 * 86400)).await, 1);
    assert_eq!(db.count(&kept("cli", 90 * 86400)).await, 1);

    let listed = db.cli_json(
        &[
            "events",
            "list",
            "--tenant",
            "acme",
            "--type",
            "admin.created",
        ],
        None,
    );
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["subject"], "api:https://api.example");
    assert_eq!(items[0]["actor"], "admin-token:static");
    let all = db.cli_json(&["events", "list", "--limit", "1"], None);
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    for bad in [
        &["events", "list", "--type", "user.nope"][..],
        &["events", "list", "--limit", "0"],
        &["serve", "--event-retention", "soon"],
        &["serve", "--event-retention", "0d"],
    ] {
        let out = db.cli(bad, None);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {:?}", out);
    }
}

#[tokio::test]
async fn journeys_sign_ins_registrations_and_failures_are_recorded() {
    use crate::journeys_helpers::{code_of, credentials, post_json, request, Via};
    let (s, admin) = setup(&[]).await;
    let client =
        s.db.client("acme", CALLBACK, &["--public", "--journeys-api"]);
    let issuer = s.server.issuer("acme");
    let (_, challenge) = pkce();
    let wrong = post_json(
        &format!("{issuer}/journeys/sign-in"),
        &request(
            &client,
            Some(&challenge),
            &credentials(EMAIL, "not it at all"),
        ),
        Via::default(),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let failed = of(&admin, "acme", "user.sign_in_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_event(&failed[0], "anonymous", Some("127.0.0.1"), None);
    assert_eq!(failed[0]["detail"]["reason"], "invalid_credentials");

    let right = post_json(
        &format!("{issuer}/journeys/sign-in"),
        &request(&client, Some(&challenge), &credentials(EMAIL, PASSWORD)),
        Via::default(),
    )
    .await;
    let code = code_of(&right, 200, &client, &issuer);
    let user = format!("user:{}", s.ann_acme);
    let signed = of(&admin, "acme", "user.signed_in").await;
    assert_eq!(signed.len(), 1, "{signed:?}");
    assert_event(&signed[0], &user, Some("127.0.0.1"), Some(&user));
    assert_eq!(
        signed[0]["detail"],
        json!({"amr": ["pwd"], "client_id": client.id})
    );

    let made = post_json(
        &format!("{issuer}/journeys/register"),
        &request(
            &client,
            Some(&challenge),
            &credentials("dan@example.com", "dans long password"),
        ),
        Via::default(),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let registered = of(&admin, "acme", "user.registered").await;
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(registered[0]["detail"], json!({"through": "password"}));
    let sub = registered[0]["subject"].as_str().unwrap();
    assert_eq!(registered[0]["actor"].as_str(), Some(sub));
    assert_no_secret(
        &admin,
        &["not it at all", PASSWORD, "dans long password", &code],
    )
    .await;
}
