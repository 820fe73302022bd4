//! Consent (docs/apis.md, "Consent"): a third-party client's person allows
//! or denies what it asks for; the decision is remembered per person,
//! client and scopes, asked again for new scopes and `prompt=consent`,
//! refused under `prompt=none`, and revoked by the admin API and CLI
//! (which also revokes the refresh tokens it allowed). First-party clients
//! never ask.

use crate::admin_helpers::{Admin, ADMIN_TOKEN};
use crate::harness::*;
use crate::pages_helpers::*;
use serde_json::Value;

/// The setup, a third-party public client of `acme` and its door.
async fn setup() -> (Setup, Door) {
    let s = Setup::new().await;
    let third =
        s.db.client("acme", CALLBACK, &["--public", "--third-party"]);
    let server = Server::start_with(&s.db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let s = Setup { server, ..s };
    let door = Door {
        client: third,
        ..s.path()
    };
    (s, door)
}

fn authorize(door: &Door, challenge: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut params = request(&door.client, challenge);
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", scope));
    params.extend_from_slice(extra);
    url_with(&door.issuer, "/authorize", &params)
}

fn assert_consent_page(page: &Page, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.body);
    assert!(
        page.body.contains("Allow Test app?") || page.body.contains("Allow "),
        "{what}"
    );
    assert!(
        page.body.contains(">Allow</button>"),
        "{what}: {}",
        page.body
    );
    assert!(page.body.contains(">Deny</button>"), "{what}");
    assert!(!page.body.contains("code="), "{what}: no code yet");
}

#[tokio::test]
async fn a_third_party_client_asks_once_per_scope_set_and_again_when_told() {
    let (s, door) = setup().await;
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let page = sign_in(
        &b,
        &door,
        &authorize(&door, &challenge, "openid email offline_access", &[]),
    )
    .await;
    assert_consent_page(&page, "first sign-in");
    assert!(
        page.body.contains("See your e-mail address"),
        "{}",
        page.body
    );
    assert!(page.body.contains(EMAIL));
    // Without the CSRF token nothing is decided.
    let (action, fields) = page.form();
    let no_csrf: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .chain([("decision".to_string(), "allow".to_string())])
        .collect();
    let refused = b.post_form(&action, &no_csrf).await;
    assert_eq!(refused.status, 200, "the page again");
    assert_eq!(s.db.count("SELECT COUNT(*) FROM consents").await, 0);
    let allowed = b.submit(&page, &[("decision", "allow")]).await;
    let code = assert_code(&allowed, &door, "allowed");
    let (status, tokens) = s.exchange(&door, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(s.db.count("SELECT COUNT(*) FROM consents").await, 1);

    // The same scopes (or fewer): no page.
    let (_, challenge) = pkce();
    let again = b
        .get(&authorize(&door, &challenge, "openid email", &[]))
        .await;
    assert_code(&again, &door, "remembered");
    // A new scope asks; prompt=none then refuses with consent_required.
    let (_, challenge) = pkce();
    let none = b
        .get(&authorize(
            &door,
            &challenge,
            "openid profile",
            &[("prompt", "none")],
        ))
        .await;
    let p = assert_redirect(&none, &door, "prompt=none");
    assert_eq!(p["error"], "consent_required");
    let (_, challenge) = pkce();
    let more = b
        .get(&authorize(&door, &challenge, "openid profile", &[]))
        .await;
    assert_consent_page(&more, "a new scope");
    assert!(more.body.contains("See your name"));
    let done = b.submit(&more, &[("decision", "allow")]).await;
    assert_code(&done, &door, "allowed again");
    let scopes = s.db.query_strings("SELECT scopes FROM consents").await;
    assert_eq!(scopes, vec!["openid email offline_access profile"]);
    // prompt=consent asks even for what was allowed; deny ends in access_denied.
    let (_, challenge) = pkce();
    let asked = b
        .get(&authorize(
            &door,
            &challenge,
            "openid",
            &[("prompt", "consent")],
        ))
        .await;
    assert_consent_page(&asked, "prompt=consent");
    let denied = b.submit(&asked, &[("decision", "deny")]).await;
    let p = assert_redirect(&denied, &door, "denied");
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], "st-123");

    // A first-party client never asks, even for prompt=consent.
    let first = s.path();
    let (_, challenge) = pkce();
    let page = b
        .get(&authorize(
            &first,
            &challenge,
            "openid",
            &[("prompt", "consent")],
        ))
        .await;
    assert_code(&page, &first, "first party");
    // A Journeys-API client cannot be third-party.
    let out = s.db.cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--redirect-uri",
            CALLBACK,
            "--public",
            "--third-party",
            "--journeys-api",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn a_revoked_consent_asks_again_and_its_refresh_tokens_stop_working() {
    let (s, door) = setup().await;
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let page = sign_in(
        &b,
        &door,
        &authorize(&door, &challenge, "openid offline_access", &[]),
    )
    .await;
    let code = assert_code(
        &b.submit(&page, &[("decision", "allow")]).await,
        &door,
        "allowed",
    );
    let (_, tokens) = s.exchange(&door, &code, &verifier).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let admin = Admin::new(&s.server, Some(ADMIN_TOKEN));
    let listed = admin
        .get(&format!("/tenants/acme/users/{}/consents", door.sub))
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"][0]["client_id"], door.client.id);
    assert_eq!(
        listed.body["items"][0]["scopes"],
        serde_json::json!(["openid", "offline_access"])
    );
    // The CLI shows the same.
    let cli = s.db.cli_json(
        &["user", "consents", "--tenant", "acme", "--sub", &door.sub],
        None,
    );
    assert_eq!(cli["items"].as_array().unwrap().len(), 1);
    let r = admin
        .delete(&format!(
            "/tenants/acme/users/{}/consents/{}",
            door.sub, door.client.id
        ))
        .await;
    assert_eq!(r.status, 204);
    let r = admin
        .delete(&format!(
            "/tenants/acme/users/{}/consents/{}",
            door.sub, door.client.id
        ))
        .await;
    assert_eq!(r.status, 404);
    let (status, body): (u16, Value) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &door.client.id),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The next request asks again.
    let (_, challenge) = pkce();
    let page = b.get(&authorize(&door, &challenge, "openid", &[])).await;
    assert_consent_page(&page, "after revocation");
}

#[tokio::test]
async fn the_account_page_lists_connected_applications_and_removes_access() {
    let (s, door) = setup().await;
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let page = sign_in(
        &b,
        &door,
        &authorize(&door, &challenge, "openid email offline_access", &[]),
    )
    .await;
    let code = assert_code(
        &b.submit(&page, &[("decision", "allow")]).await,
        &door,
        "allowed",
    );
    let (_, tokens) = s.exchange(&door, &code, &verifier).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    // The same browser's session opens the account page.
    let account = b.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(
        account.body.contains("Connected applications"),
        "{}",
        account.body
    );
    assert!(account.body.contains("Test app") || account.body.contains(&door.client.id));
    assert!(account.body.contains("openid email offline_access"));
    let done = crate::account_page::submit_to(
        &b,
        &account,
        "/account/apps/revoke",
        &[("client_id", &door.client.id)],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = b.get(&done.location().unwrap()).await;
    assert!(after.body.contains("access was removed"), "{}", after.body);
    assert!(!after.body.contains("Connected applications"));
    assert_eq!(s.db.count("SELECT COUNT(*) FROM consents").await, 0);
    let (status, body): (u16, Value) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &door.client.id),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Without the CSRF token nothing is removed (and another's id is a no-op).
    let (_, challenge) = pkce();
    let page = b.get(&authorize(&door, &challenge, "openid", &[])).await;
    assert_code(
        &b.submit(&page, &[("decision", "allow")]).await,
        &door,
        "allowed again",
    );
    let account = b.get(&format!("{}/account", door.issuer)).await;
    let (action, fields) = crate::account_page::form_to(&account, "/account/apps/revoke");
    let forged: Vec<(String, String)> = fields.into_iter().filter(|(k, _)| k != "csrf").collect();
    let refused = b.post_form(&action, &forged).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM consents").await, 1);
}
