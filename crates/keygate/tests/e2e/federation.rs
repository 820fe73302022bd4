//! Sign-in through an upstream identity provider (docs/federation.md),
//! against a real OpenID provider: a second tenant of the same Keygate
//! (`up`), whose client is Keygate itself. The flows are driven as a
//! browser does (cookies kept, redirects followed one by one).

use crate::harness::{self, authorize_url, claims, pkce, Browser, Page, TestClient, World};

/// An upstream person.
const UP_EMAIL: &str = "bo@up.example";
const UP_PASSWORD: &str = "upstream password 1";
const NAME: &str = "Up Co";

struct Fed {
    w: World,
    /// The application of tenant `acme`.
    app: TestClient,
    /// The upstream tenant's issuer.
    up: String,
    /// The upstream's id in `acme`.
    idp: String,
}

impl Fed {
    /// `acme` with an `oidc` upstream `Up Co`: the tenant `up` of the same
    /// server, where Keygate is a confidential client.
    async fn new() -> Fed {
        Fed::with(&[]).await
    }

    /// [`Fed::new`] with extra `idp create` arguments.
    async fn with(extra: &[&str]) -> Fed {
        let w = World::new().await;
        w.db.tenant("up", &[]);
        w.db.user("up", UP_EMAIL, UP_PASSWORD);
        let up_client = w.db.client("up", "http://127.0.0.1:9/placeholder", &[]);
        let up = w.server.issuer("up");
        let mut args = vec![
            "idp",
            "create",
            "--tenant",
            "acme",
            "--name",
            NAME,
            "--issuer",
            &up,
            "--client-id",
            &up_client.id,
            "--client-secret-stdin",
        ];
        args.extend(extra);
        let created =
            w.db.cli_json(&args, Some(&format!("{}\n", up_client.secret())));
        let idp = created["id"].as_str().unwrap().to_string();
        // The CLI builds it from KEYGATE_PUBLIC_URL, which it is not given
        // here: only its path is this server's.
        let path = format!("/acme/as/federation/{idp}/callback");
        assert!(
            created["callback_uri"].as_str().unwrap().ends_with(&path),
            "{created}"
        );
        let callback = format!("{}/federation/{idp}/callback", w.issuer);
        w.db.cli_json(
            &[
                "client",
                "update",
                "--tenant",
                "up",
                &up_client.id,
                "--redirect-uri",
                &callback,
            ],
            None,
        );
        let app = w.public_client(&[]);
        Fed { w, app, up, idp }
    }

    fn authorize(&self, challenge: &str, extra: &[(&str, &str)]) -> String {
        authorize_url(&self.w.issuer, &self.app, Some(challenge), extra)
    }

    /// From the application's request to the upstream's sign-in page, by
    /// `connection`: the redirect to the upstream, and its page.
    async fn to_upstream(&self, b: &Browser, challenge: &str) -> (Page, Page) {
        let go = b
            .get(&self.authorize(challenge, &[("connection", NAME)]))
            .await;
        assert_eq!(go.status, 303, "{}", go.body);
        let at = go.location().unwrap();
        assert!(at.starts_with(&format!("{}/authorize?", self.up)), "{at}");
        let page = b.get(&at).await;
        assert_eq!(page.status, 200, "{}", page.body);
        (go, page)
    }

    /// Signs in at the upstream as `email`; returns Keygate's answer to
    /// the callback.
    async fn through_upstream(&self, b: &Browser, challenge: &str, email: &str, pw: &str) -> Page {
        let (_, page) = self.to_upstream(b, challenge).await;
        let back = b.submit(&page, &[("email", email), ("password", pw)]).await;
        assert_eq!(back.status, 303, "{}", back.body);
        let callback = back.location().unwrap();
        assert!(
            callback.starts_with(&format!(
                "{}/federation/{}/callback?",
                self.w.issuer, self.idp
            )),
            "{callback}"
        );
        b.get(&callback).await
    }

    /// The application's tokens for a code.
    async fn tokens(&self, code: &str, verifier: &str) -> serde_json::Value {
        let (status, _, body) = harness::token(
            &self.w.issuer,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.app.redirect_uri),
                ("client_id", &self.app.id),
                ("code_verifier", verifier),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A whole sign-in of `email` at the upstream: the id_token's claims.
    async fn sign_in(&self, email: &str, pw: &str) -> serde_json::Value {
        let b = Browser::new();
        let (verifier, challenge) = pkce();
        let done = self.through_upstream(&b, &challenge, email, pw).await;
        assert_eq!(done.status, 303, "{}", done.body);
        let params = done.redirect_params();
        assert_eq!(params["state"], "st-123");
        let tokens = self.tokens(&params["code"], &verifier).await;
        claims(tokens["id_token"].as_str().unwrap())
    }

    async fn users(&self) -> i64 {
        self.w
            .db
            .count("SELECT COUNT(*) FROM users WHERE tenant_id = 'acme'")
            .await
    }

    async fn identities(&self) -> i64 {
        self.w
            .db
            .count("SELECT COUNT(*) FROM federated_identities")
            .await
    }
}

/// The `state` parameter of a URL.
fn state_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

fn amr(id_token: &serde_json::Value) -> Vec<String> {
    id_token["amr"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn first_use_creates_the_person_and_later_uses_sign_in_the_same_one() {
    let f = Fed::new().await;
    assert_eq!(f.users().await, 1);
    let first = f.sign_in(UP_EMAIL, UP_PASSWORD).await;
    assert_eq!(first["email"], UP_EMAIL);
    // The upstream's address was not verified there: not here either.
    assert_eq!(first["email_verified"], false);
    assert_eq!(first["name"], "Ann Example");
    assert!(amr(&first).contains(&"fed".to_string()), "{first}");
    assert!(!amr(&first).contains(&"pwd".to_string()), "{first}");
    assert_eq!(f.users().await, 2);
    assert_eq!(f.identities().await, 1);
    let again = f.sign_in(UP_EMAIL, UP_PASSWORD).await;
    assert_eq!(again["sub"], first["sub"]);
    assert_eq!(f.users().await, 2, "the second use created nobody");
    // The person has no password here: the upstream's one does not work.
    let b = Browser::new();
    let (_, challenge) = pkce();
    let page = b.get(&f.authorize(&challenge, &[])).await;
    let refused = b
        .submit(&page, &[("email", UP_EMAIL), ("password", UP_PASSWORD)])
        .await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn the_sign_in_page_links_each_upstream_with_the_request() {
    let f = Fed::new().await;
    let b = Browser::new();
    let (verifier, challenge) = pkce();
    let page = b.get(&f.authorize(&challenge, &[])).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("Continue with {NAME}")),
        "{}",
        page.body
    );
    let start = format!("{}/federation/{}/start?", f.w.issuer, f.idp);
    let i = page.body.find(&start).expect("a link to the upstream");
    let href = harness::unescape(&page.body[i..i + page.body[i..].find('"').unwrap()]);
    let go = b.get(&href).await;
    assert_eq!(go.status, 303, "{}", go.body);
    let at = url::Url::parse(&go.location().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = at.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert!(q["state"].len() >= 43, "{q:?}");
    assert_eq!(q["nonce"].len(), 64);
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert!(go.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly; SameSite=Lax"));
    // And the rest of the trip ends with a code for the application.
    let up_page = b.get(at.as_str()).await;
    let back = b
        .submit(&up_page, &[("email", UP_EMAIL), ("password", UP_PASSWORD)])
        .await;
    let done = b.get(&back.location().unwrap()).await;
    let code = done.redirect_params()["code"].clone();
    let tokens = f.tokens(&code, &verifier).await;
    assert!(amr(&claims(tokens["id_token"].as_str().unwrap())).contains(&"fed".to_string()));
}

#[tokio::test]
async fn idp_hint_goes_straight_there_and_unknown_names_are_refused() {
    let f = Fed::new().await;
    let b = Browser::new();
    let (_, challenge) = pkce();
    let go = b
        .get(&f.authorize(&challenge, &[("idp_hint", &f.idp)]))
        .await;
    assert_eq!(go.status, 303);
    assert!(go
        .location()
        .unwrap()
        .starts_with(&format!("{}/authorize?", f.up)));
    for (k, v) in [("connection", "Nope"), ("idp_hint", "nope")] {
        let refused = b.get(&f.authorize(&challenge, &[(k, v)])).await;
        assert_eq!(refused.status, 303, "{}", refused.body);
        let p = refused.redirect_params();
        assert_eq!(p["error"], "invalid_request", "{p:?}");
        assert_eq!(p["state"], "st-123");
        assert!(refused.location().unwrap().starts_with(&f.app.redirect_uri));
    }
}

#[tokio::test]
async fn an_account_with_the_same_email_is_linked_only_after_its_password() {
    let f = Fed::new().await;
    // The upstream has a person with the address of acme's Ann.
    f.w.db.user("up", harness::EMAIL, "ann at the upstream");
    let ann =
        f.w.db
            .query_strings("SELECT sub FROM users WHERE tenant_id = 'acme'")
            .await
            .remove(0);
    let b = Browser::new();
    let (verifier, challenge) = pkce();
    let page = f
        .through_upstream(&b, &challenge, harness::EMAIL, "ann at the upstream")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("Link your {NAME} account")));
    assert!(page.body.contains(harness::EMAIL));
    assert_eq!(
        f.identities().await,
        0,
        "nothing linked before the password"
    );
    assert_eq!(f.users().await, 1, "nobody created");
    let wrong = b.submit(&page, &[("password", "not the password")]).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains("incorrect"));
    assert_eq!(f.identities().await, 0);
    let done = b.submit(&wrong, &[("password", harness::PASSWORD)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let tokens = f.tokens(&done.redirect_params()["code"], &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], ann);
    assert!(amr(&id).contains(&"pwd".to_string()) && amr(&id).contains(&"fed".to_string()));
    assert_eq!(f.identities().await, 1);
    // The link page cannot be used twice.
    let again = b.submit(&page, &[("password", harness::PASSWORD)]).await;
    assert_eq!(again.status, 400, "{}", again.body);
    // From now on the upstream alone signs in as Ann.
    let later = f.sign_in(harness::EMAIL, "ann at the upstream").await;
    assert_eq!(later["sub"], ann);
    assert_eq!(amr(&later), vec!["fed"]);
    assert_eq!(f.users().await, 1);
}

#[tokio::test]
async fn a_foreign_tampered_or_replayed_state_is_refused_and_nothing_is_created() {
    let f = Fed::new().await;
    let b = Browser::new();
    let (_, challenge) = pkce();
    let (_, page) = f.to_upstream(&b, &challenge).await;
    let back = b
        .submit(&page, &[("email", UP_EMAIL), ("password", UP_PASSWORD)])
        .await;
    let callback = back.location().unwrap();
    let state = state_of(&callback);
    // Another browser (no cookie, or someone else's link): refused.
    let other = Browser::new().get(&callback).await;
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(other.body.contains("not started in this browser"));
    // A tampered state: refused, and the real one still works after.
    let tampered = callback.replace(&state, &format!("{state}x"));
    let t = b.get(&tampered).await;
    assert_eq!(t.status, 400, "{}", t.body);
    assert_eq!(f.users().await, 1);
    assert_eq!(f.identities().await, 0);
    // (The tampered answer cleared the cookie: set it back as it was.)
    let cookie = format!("kg_federation={state}");
    let with_cookie = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ok = with_cookie
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(f.users().await, 2);
    // Replayed, even with the right cookie: the trip was taken.
    let replay = with_cookie
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay
        .text()
        .await
        .unwrap()
        .contains("already been completed"));
    assert_eq!(f.users().await, 2);
}

#[tokio::test]
async fn the_upstreams_refusal_goes_back_to_the_application_and_a_wrong_iss_stops() {
    let f = Fed::new().await;
    let b = Browser::new();
    let (_, challenge) = pkce();
    let (go, _) = f.to_upstream(&b, &challenge).await;
    let state = state_of(&go.location().unwrap());
    let callback = format!("{}/federation/{}/callback", f.w.issuer, f.idp);
    let declined = b
        .get(&format!("{callback}?error=access_denied&state={state}"))
        .await;
    assert_eq!(declined.status, 303, "{}", declined.body);
    assert!(declined
        .location()
        .unwrap()
        .starts_with(&f.app.redirect_uri));
    let p = declined.redirect_params();
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], "st-123");
    assert_eq!(f.users().await, 1);
    // A mix-up: an answer naming another issuer (RFC 9207) is not used.
    let (go, page) = f.to_upstream(&b, &challenge).await;
    let _ = go;
    let back = b
        .submit(&page, &[("email", UP_EMAIL), ("password", UP_PASSWORD)])
        .await;
    let mixed = back
        .location()
        .unwrap()
        .replace("iss=", "iss=https%3A%2F%2Fevil.example&was=");
    let refused = b.get(&mixed).await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(refused.body.contains("could not be verified"));
    assert_eq!(f.users().await, 1);
    assert_eq!(f.identities().await, 0);
}

#[tokio::test]
async fn an_upstream_that_is_down_ends_on_a_page_within_seconds() {
    let w = World::new().await;
    let app = w.public_client(&[]);
    // One port where nothing listens, one that accepts and never answers.
    let closed = harness::free_port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for (name, port) in [("Closed", closed), ("Silent", silent_port)] {
        let issuer = format!("http://127.0.0.1:{port}/oidc");
        w.db.cli_json(
            &[
                "idp",
                "create",
                "--tenant",
                "acme",
                "--name",
                name,
                "--issuer",
                &issuer,
                "--client-id",
                "kg",
            ],
            None,
        );
        let b = Browser::new();
        let (_, challenge) = pkce();
        let started = std::time::Instant::now();
        let page = b
            .get(&authorize_url(
                &w.issuer,
                &app,
                Some(&challenge),
                &[("connection", name)],
            ))
            .await;
        let took = started.elapsed();
        assert_eq!(page.status, 502, "{}", page.body);
        assert!(page.body.contains(&format!("{name} could not be reached")));
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
        assert_eq!(
            w.db.count("SELECT COUNT(*) FROM federation_states").await,
            0,
            "nothing stored for a trip that did not start"
        );
    }
    drop(silent);
}

#[tokio::test]
async fn an_oauth2_upstream_is_read_through_its_userinfo_and_claim_map() {
    let w = World::new().await;
    w.db.tenant("up", &[]);
    w.db.user("up", UP_EMAIL, UP_PASSWORD);
    let up = w.server.issuer("up");
    // GitHub reads the client secret in the body: so does this upstream.
    let up_client = w.db.client(
        "up",
        "http://127.0.0.1:9/placeholder",
        &["--auth-method", "client_secret_post"],
    );
    let created = w.db.cli_json(
        &[
            "idp",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Hub",
            "--kind",
            "oauth2",
            "--issuer",
            "https://hub.example",
            "--client-id",
            &up_client.id,
            "--client-secret-stdin",
            "--authorize-url",
            &format!("{up}/authorize"),
            "--token-url",
            &format!("{up}/token"),
            "--userinfo-url",
            &format!("{up}/userinfo"),
            "--scope",
            "openid",
            "--scope",
            "email",
            "--claim",
            "name=email",
            "--claim",
            "email_verified=",
        ],
        Some(&format!("{}\n", up_client.secret())),
    );
    let callback = &format!(
        "{}/federation/{}/callback",
        w.issuer,
        created["id"].as_str().unwrap()
    );
    w.db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "up",
            &up_client.id,
            "--redirect-uri",
            callback,
        ],
        None,
    );
    let app = w.public_client(&[]);
    let b = Browser::new();
    let (verifier, challenge) = pkce();
    let go = b
        .get(&authorize_url(
            &w.issuer,
            &app,
            Some(&challenge),
            &[("connection", "Hub")],
        ))
        .await;
    let at = go.location().unwrap();
    assert!(at.starts_with(&format!("{up}/authorize?")), "{at}");
    assert!(!at.contains("nonce="), "plain OAuth 2.0 has no nonce: {at}");
    let page = b.get(&at).await;
    let back = b
        .submit(&page, &[("email", UP_EMAIL), ("password", UP_PASSWORD)])
        .await;
    let done = b.get(&back.location().unwrap()).await;
    assert_eq!(done.status, 303, "{}", w.server.log_text());
    let (status, _, tokens) = harness::token(
        &w.issuer,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &done.redirect_params()["code"]),
            ("redirect_uri", &app.redirect_uri),
            ("client_id", &app.id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], UP_EMAIL);
    assert_eq!(id["name"], UP_EMAIL, "the name comes by the claim map");
    assert_eq!(id["email_verified"], false);
    assert_eq!(
        w.db.query_strings("SELECT issuer FROM federated_identities")
            .await,
        vec!["https://hub.example".to_string()]
    );
}

#[tokio::test]
async fn the_account_page_lists_links_and_removes_identities_but_not_the_last_way_in() {
    let f = Fed::new().await;
    // A person created through the upstream: no password, one identity.
    let b = Browser::new();
    let (_, challenge) = pkce();
    let done = f
        .through_upstream(&b, &challenge, UP_EMAIL, UP_PASSWORD)
        .await;
    assert_eq!(done.status, 303);
    let account = b.get(&format!("{}/account", f.w.issuer)).await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account.body.contains("Sign-in with other accounts"));
    assert!(account.body.contains(&format!("Remove {NAME}")));
    let i = account.body.find("/account/identities/remove").unwrap();
    let form_start = account.body[..i].rfind("<form").unwrap();
    let only = Page {
        body: account.body[form_start..].to_string(),
        ..account
    };
    let refused = b.submit(&only, &[]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("only way to sign in"));
    assert_eq!(f.identities().await, 1);

    // Ann (with a password) links the upstream from her account page,
    // then removes it.
    f.w.db.user("up", "ann2@up.example", "ann at the upstream");
    let ann = Browser::new();
    let (_, challenge) = pkce();
    let signed = ann.get(&f.authorize(&challenge, &[])).await;
    let signed = ann
        .submit(
            &signed,
            &[("email", harness::EMAIL), ("password", harness::PASSWORD)],
        )
        .await;
    assert_eq!(signed.status, 303);
    let page = ann.get(&format!("{}/account", f.w.issuer)).await;
    let i = page.body.find("/account/identities/link").unwrap();
    let form_start = page.body[..i].rfind("<form").unwrap();
    let link_form = Page {
        body: page.body[form_start..].to_string(),
        ..page
    };
    let go = ann.submit(&link_form, &[]).await;
    assert_eq!(go.status, 303, "{}", go.body);
    let up_page = ann.get(&go.location().unwrap()).await;
    let back = ann
        .submit(
            &up_page,
            &[
                ("email", "ann2@up.example"),
                ("password", "ann at the upstream"),
            ],
        )
        .await;
    let linked = ann.get(&back.location().unwrap()).await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    assert!(linked
        .location()
        .unwrap()
        .ends_with("/account?done=identity-linked"));
    assert_eq!(f.identities().await, 2);
    let page = ann.get(&format!("{}/account", f.w.issuer)).await;
    assert!(page.body.contains("ann2@up.example"));
    let i = page.body.find("/account/identities/remove").unwrap();
    let form_start = page.body[..i].rfind("<form").unwrap();
    let remove = Page {
        body: page.body[form_start..].to_string(),
        ..page
    };
    let removed = ann.submit(&remove, &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(f.identities().await, 1);
}

#[tokio::test]
async fn deleting_the_person_or_the_upstream_behaves_as_documented() {
    let f = Fed::new().await;
    let first = f.sign_in(UP_EMAIL, UP_PASSWORD).await;
    let sub = first["sub"].as_str().unwrap().to_string();
    // Deleting the upstream keeps the link: recreated with the same issuer
    // it recognizes the same person.
    f.w.db
        .cli_json(&["idp", "delete", "--tenant", "acme", "--id", &f.idp], None);
    assert_eq!(f.identities().await, 1);
    // Deleting the person removes their identities.
    f.w.db
        .cli_json(&["user", "delete", "--tenant", "acme", &sub], None);
    assert_eq!(f.identities().await, 0);
}

#[tokio::test]
async fn no_address_closed_registration_and_a_disabled_account_create_nothing() {
    // An upstream asked only for `openid`: it shares no e-mail.
    let f = Fed::with(&["--scope", "openid"]).await;
    let b = Browser::new();
    let (_, challenge) = pkce();
    let page = f
        .through_upstream(&b, &challenge, UP_EMAIL, UP_PASSWORD)
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("did not share an e-mail address"));
    assert_eq!((f.users().await, f.identities().await), (1, 0));

    let f = Fed::new().await;
    f.w.db.cli_json(
        &["tenant", "update", "acme", "--registration", "closed"],
        None,
    );
    // The server reads tenants through a cache of 5 s.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let page = f
        .through_upstream(&Browser::new(), &challenge, UP_EMAIL, UP_PASSWORD)
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("does not accept new accounts"));
    assert_eq!((f.users().await, f.identities().await), (1, 0));
    // Where registration is open the person is created; then disabled,
    // their upstream no longer signs them in.
    let f = Fed::new().await;
    let first = f.sign_in(UP_EMAIL, UP_PASSWORD).await;
    let sub = first["sub"].as_str().unwrap();
    f.w.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            sub,
            "--disabled",
            "true",
        ],
        None,
    );
    let page = f
        .through_upstream(&Browser::new(), &challenge, UP_EMAIL, UP_PASSWORD)
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("disabled"));
}
