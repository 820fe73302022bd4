//! Tenants and clients: the records the admin API keeps (lib.rs: `Store`,
//! "Tenants", "Clients", "Administration").

use crate::*;
use keygate_core::model::*;
use keygate_store::StoreError;

pub(crate) fn is_conflict<T: std::fmt::Debug>(r: keygate_store::Result<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_created_once_read_by_id_and_by_host() {
    let db = Db::open().await;
    let s = &*db.store;
    let mut t1 = tenant(
        "t1",
        &["http://localhost:8080", "https://login.example.com"],
    );
    t1.token_rate_limit = Some(7);
    s.create_tenant(&t1).await.unwrap();
    assert_eq!(s.get_tenant("t1").await.unwrap(), Some(t1.clone()));
    assert_eq!(s.get_tenant("nobody").await.unwrap(), None);

    // The id is taken; so is a domain, and the tenant that asked for it is
    // not created either (one write).
    assert!(is_conflict(s.create_tenant(&tenant("t1", &[])).await));
    assert!(is_conflict(
        s.create_tenant(&tenant("t2", &["https://login.example.com"]))
            .await
    ));
    assert_eq!(s.get_tenant("t2").await.unwrap(), None);
    assert_eq!(s.get_tenant("t1").await.unwrap(), Some(t1.clone()));

    // Found by the Host authority (`host[:port]`), with the matching origin.
    assert_eq!(
        s.tenant_by_authority("login.example.com").await.unwrap(),
        Some((t1.clone(), "https://login.example.com".to_string()))
    );
    assert_eq!(
        s.tenant_by_authority("localhost:8080").await.unwrap(),
        Some((t1.clone(), "http://localhost:8080".to_string()))
    );
    assert_eq!(s.tenant_by_authority("localhost").await.unwrap(), None);
    assert_eq!(
        s.tenant_by_authority("other.example.com").await.unwrap(),
        None
    );

    // ensure_tenant creates only what is missing.
    let mut changed = t1.clone();
    changed.display_name = "Not applied".into();
    changed.domains = vec![];
    s.ensure_tenant(&changed).await.unwrap();
    assert_eq!(s.get_tenant("t1").await.unwrap(), Some(t1.clone()));
    let fresh = tenant("default", &[]);
    s.ensure_tenant(&fresh).await.unwrap();
    assert_eq!(s.get_tenant("default").await.unwrap(), Some(fresh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensuring_a_tenant_creates_it_whole_or_leaves_the_existing_one_alone() {
    let db = Db::open().await;
    let s = &*db.store;
    // Created with everything it was given, its domains and rate limit
    // included.
    let mut t = tenant("default", &["https://login.example.com"]);
    t.token_rate_limit = Some(9);
    s.ensure_tenant(&t).await.unwrap();
    assert_eq!(s.get_tenant("default").await.unwrap(), Some(t.clone()));
    // Ensured again with the same domains (every start of the server):
    // it exists, so nothing is created and nothing conflicts.
    s.ensure_tenant(&t).await.unwrap();
    let mut other = tenant("default", &["https://elsewhere.example.com"]);
    other.display_name = "Not applied".into();
    s.ensure_tenant(&other).await.unwrap();
    assert_eq!(s.get_tenant("default").await.unwrap(), Some(t.clone()));
    assert_eq!(
        s.tenant_by_authority("elsewhere.example.com")
            .await
            .unwrap(),
        None
    );
    // A new tenant asking for a domain another one holds: Conflict, and
    // not created.
    assert!(is_conflict(
        s.ensure_tenant(&tenant("t2", &["https://login.example.com"]))
            .await
    ));
    assert_eq!(s.get_tenant("t2").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_a_tenant_replaces_its_name_domains_and_rate_limit() {
    let db = Db::open().await;
    let s = &*db.store;
    let t1 = tenant("t1", &["https://login.example.com"]);
    s.create_tenant(&t1).await.unwrap();
    let t2 = tenant("t2", &[]);
    s.create_tenant(&t2).await.unwrap();

    let mut updated = t1.clone();
    updated.display_name = "Renamed".into();
    updated.domains = vec![
        "https://a.example.org".into(),
        "https://b.example.org".into(),
    ];
    updated.token_rate_limit = Some(0);
    updated.created_at = 1; // not a setting: kept as created
    s.update_tenant(&updated).await.unwrap();
    let expected = Tenant {
        created_at: t1.created_at,
        ..updated.clone()
    };
    assert_eq!(s.get_tenant("t1").await.unwrap(), Some(expected.clone()));
    assert_eq!(
        s.tenant_by_authority("login.example.com").await.unwrap(),
        None
    );
    assert_eq!(
        s.tenant_by_authority("b.example.org").await.unwrap(),
        Some((expected.clone(), "https://b.example.org".into()))
    );

    // Back to no rate limit of its own.
    let mut unlimited = expected.clone();
    unlimited.token_rate_limit = None;
    s.update_tenant(&unlimited).await.unwrap();
    assert_eq!(s.get_tenant("t1").await.unwrap(), Some(unlimited.clone()));

    // A domain of another tenant: Conflict, and nothing of the update stays.
    let mut grab = t2.clone();
    grab.display_name = "Grabbed".into();
    grab.domains = vec!["https://a.example.org".into()];
    assert!(is_conflict(s.update_tenant(&grab).await));
    assert_eq!(s.get_tenant("t2").await.unwrap(), Some(t2.clone()));
    assert_eq!(s.get_tenant("t1").await.unwrap(), Some(unlimited));

    assert_eq!(
        s.update_tenant(&tenant("nobody", &[])).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.get_tenant("nobody").await.unwrap(), None);
}

/// Registration, verify_email and mfa (migration 10): stored as created,
/// changed by `update_tenant`, and read back by every way of reading a
/// tenant (by id, by domain, in a list).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_settings_are_stored_and_read_back() {
    let db = Db::open().await;
    let s = &*db.store;

    let plain = tenant("plain", &[]);
    assert_eq!(plain.registration, Registration::Open);
    assert_eq!(plain.verify_email, VerifyEmail::Optional);
    assert_eq!(plain.mfa, MfaPolicy::Optional);
    s.create_tenant(&plain).await.unwrap();
    assert_eq!(s.get_tenant("plain").await.unwrap(), Some(plain.clone()));

    let mut strict = tenant("strict", &["https://strict.example.com"]);
    strict.registration = Registration::Closed;
    strict.verify_email = VerifyEmail::Required;
    strict.mfa = MfaPolicy::Off;
    s.create_tenant(&strict).await.unwrap();
    assert_eq!(s.get_tenant("strict").await.unwrap(), Some(strict.clone()));
    assert_eq!(
        s.tenant_by_authority("strict.example.com").await.unwrap(),
        Some((strict.clone(), "https://strict.example.com".into()))
    );
    assert_eq!(
        s.list_tenants("", 10).await.unwrap(),
        vec![plain.clone(), strict.clone()]
    );

    // ensure_tenant stores the settings of a tenant it creates, and leaves
    // an existing tenant's alone.
    let mut ensured = tenant("ensured", &[]);
    ensured.verify_email = VerifyEmail::Off;
    ensured.mfa = MfaPolicy::Required;
    s.ensure_tenant(&ensured).await.unwrap();
    assert_eq!(
        s.get_tenant("ensured").await.unwrap(),
        Some(ensured.clone())
    );
    s.ensure_tenant(&tenant("strict", &[])).await.unwrap();
    assert_eq!(s.get_tenant("strict").await.unwrap(), Some(strict.clone()));

    // Every value of every setting survives an update.
    for r in Registration::ALL {
        for v in VerifyEmail::ALL {
            for m in MfaPolicy::ALL {
                let mut t = strict.clone();
                t.registration = *r;
                t.verify_email = *v;
                t.mfa = *m;
                s.update_tenant(&t).await.unwrap();
                assert_eq!(s.get_tenant("strict").await.unwrap(), Some(t.clone()));
                assert_eq!(
                    s.tenant_by_authority("strict.example.com").await.unwrap(),
                    Some((t, "https://strict.example.com".into()))
                );
            }
        }
    }
    // The other tenants are untouched.
    assert_eq!(s.get_tenant("plain").await.unwrap(), Some(plain));
    assert_eq!(s.get_tenant("ensured").await.unwrap(), Some(ensured));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_listed_in_pages_by_id() {
    let db = Db::open().await;
    let s = &*db.store;
    let mut all = Vec::new();
    for id in ["e", "a", "d", "b", "c"] {
        let t = tenant(id, &[&format!("https://{id}.example.com")]);
        s.create_tenant(&t).await.unwrap();
        all.push(t);
    }
    all.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(s.list_tenants("", 2).await.unwrap(), all[0..2]);
    assert_eq!(s.list_tenants("b", 2).await.unwrap(), all[2..4]);
    assert_eq!(s.list_tenants("d", 2).await.unwrap(), all[4..5]);
    assert_eq!(s.list_tenants("e", 2).await.unwrap(), []);
    assert_eq!(s.list_tenants("", 100).await.unwrap(), all);
}

/// Fills tenant `t` with one of everything; returns the refresh token's hash.
async fn populate(s: &dyn keygate_store::Store, t: &str, now: i64) -> String {
    s.create_tenant(&tenant(t, &[&format!("https://{t}.example.com")]))
        .await
        .unwrap();
    let mut c = client(t, &format!("{t}-client"), false);
    c.web_origins = vec![format!("https://{t}-app.example.com")];
    s.create_client(&c).await.unwrap();
    s.create_user(&user(t, &format!("{t}-user"))).await.unwrap();
    s.insert_signing_key(&key(t, &format!("{t}-key"), 1))
        .await
        .unwrap();
    s.create_session(
        &format!("{t}-session"),
        &session(t, &format!("{t}-user"), now + 3600),
    )
    .await
    .unwrap();
    let g = grant(&format!("{t}-grant"), &c, &format!("{t}-user"), now, 60);
    make_grant(s, &g).await;
    let refresh = format!("{t}-refresh");
    let won = exchange_code(
        s,
        &code_of(&g.id),
        now,
        approve_code(successor(&refresh, now + 3600)),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    refresh
}

pub(crate) fn key(tenant_id: &str, kid: &str, seq: i64) -> keygate_store::StoredKey {
    keygate_store::StoredKey {
        kid: kid.into(),
        tenant_id: tenant_id.into(),
        alg: "ES256".into(),
        seq,
        sealed_private: format!("sealed-{kid}"),
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at: now(),
        activates_at: now(),
        retires_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_removes_everything_in_it_and_nothing_else() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let gone = populate(s, "t1", now).await;
    let kept = populate(s, "t2", now).await;

    assert!(s.delete_tenant("t1").await.unwrap());
    assert!(!s.delete_tenant("t1").await.unwrap());
    assert!(!s.delete_tenant("nobody").await.unwrap());

    assert_eq!(s.get_tenant("t1").await.unwrap(), None);
    assert_eq!(s.tenant_by_authority("t1.example.com").await.unwrap(), None);
    assert_eq!(s.get_client("t1", "t1-client").await.unwrap(), None);
    assert!(!s
        .is_web_origin("t1", "https://t1-app.example.com")
        .await
        .unwrap());
    assert_eq!(s.get_user("t1", "t1-user").await.unwrap(), None);
    assert_eq!(
        s.user_by_email("t1", "t1-user@example.com").await.unwrap(),
        None
    );
    assert_eq!(s.signing_keys("t1").await.unwrap(), []);
    assert_eq!(s.get_session("t1-session").await.unwrap(), None);
    assert_eq!(s.get_grant("t1-grant").await.unwrap(), None);
    assert_eq!(s.refresh_token(&gone).await.unwrap(), None);
    for table in [
        "tenant_domains",
        "clients",
        "client_web_origins",
        "users",
        "signing_keys",
        "sessions",
        "grants",
        "refresh_tokens",
    ] {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = 't1'"
            ))
            .await,
            0,
            "{table} keeps rows of the deleted tenant"
        );
    }

    // The other tenant keeps all of its own.
    assert!(s.get_tenant("t2").await.unwrap().is_some());
    assert!(s
        .tenant_by_authority("t2.example.com")
        .await
        .unwrap()
        .is_some());
    assert!(s.get_client("t2", "t2-client").await.unwrap().is_some());
    assert!(s
        .is_web_origin("t2", "https://t2-app.example.com")
        .await
        .unwrap());
    assert!(s.get_user("t2", "t2-user").await.unwrap().is_some());
    assert_eq!(s.signing_keys("t2").await.unwrap().len(), 1);
    assert!(s.get_session("t2-session").await.unwrap().is_some());
    assert!(s.get_grant("t2-grant").await.unwrap().is_some());
    assert!(s.refresh_token(&kept).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_created_read_updated_and_listed() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let mut c = client("t1", "c1", false);
    c.web_origins = vec!["https://app.example.com".into()];
    c.post_logout_redirect_uris = vec!["https://app.example.com/bye".into()];
    c.token_rate_limit = Some(25);
    c.journeys_api = true;
    s.create_client(&c).await.unwrap();
    assert_eq!(s.get_client("t1", "c1").await.unwrap(), Some(c.clone()));
    assert_eq!(s.get_client("t2", "c1").await.unwrap(), None);
    assert_eq!(
        s.client_by_name("t1", "Client c1").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(s.client_by_name("t2", "Client c1").await.unwrap(), None);
    assert!(is_conflict(s.create_client(&c).await));

    // The web origins the tenant's clients registered (CORS), per tenant.
    assert!(s
        .is_web_origin("t1", "https://app.example.com")
        .await
        .unwrap());
    assert!(!s
        .is_web_origin("t2", "https://app.example.com")
        .await
        .unwrap());
    assert!(!s
        .is_web_origin("t1", "https://evil.example.com")
        .await
        .unwrap());

    // Everything but id, tenant, kind, secret and creation time is replaced.
    let mut u = c.clone();
    u.name = "Renamed".into();
    u.public = true;
    u.secret_hash = None;
    u.created_at = 1;
    u.auth_method = AuthMethod::ClientSecretPost;
    u.redirect_uris = vec![
        "https://new.example.com/cb".into(),
        "http://127.0.0.1/cb".into(),
    ];
    u.post_logout_redirect_uris = vec![];
    u.grant_types = vec![GrantType::ClientCredentials];
    u.refresh_policy = RefreshPolicy::OfflineAccess;
    u.id_token_ttl = 60;
    u.access_token_ttl = 120;
    u.refresh_token_max_ttl = 86400;
    u.journeys_api = false;
    u.web_origins = vec!["https://new.example.com".into()];
    u.signing_alg = SigningAlg::EdDSA;
    u.pkce = PkcePolicy::PlainAllowed;
    u.token_rate_limit = None;
    u.jwks = Some(r#"{"keys":[]}"#.into());
    u.jwks_uri = Some("https://new.example.com/jwks".into());
    u.secret_sealed = Some("sealed".into());
    u.require_dpop = true;
    u.require_par = true;
    u.exchange_audiences = vec!["https://api.example.com".into()];
    u.backchannel_logout_uri = Some("https://new.example.com/logout".into());
    s.update_client(&u).await.unwrap();
    let expected = Client {
        public: c.public,
        secret_hash: c.secret_hash.clone(),
        created_at: c.created_at,
        ..u.clone()
    };
    assert_eq!(s.get_client("t1", "c1").await.unwrap(), Some(expected));
    assert!(!s
        .is_web_origin("t1", "https://app.example.com")
        .await
        .unwrap());
    assert!(s
        .is_web_origin("t1", "https://new.example.com")
        .await
        .unwrap());
    assert_eq!(
        s.update_client(&client("t1", "nobody", false)).await,
        Err(StoreError::NotFound)
    );
    let mut elsewhere = u.clone();
    elsewhere.tenant_id = "t2".into();
    assert_eq!(s.update_client(&elsewhere).await, Err(StoreError::NotFound));

    // Pages by id, per tenant.
    for id in ["c3", "c0", "c2"] {
        s.create_client(&client("t1", id, true)).await.unwrap();
    }
    s.create_client(&client("t2", "c9", true)).await.unwrap();
    let ids = |v: Vec<Client>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_clients("t1", "", 2).await.unwrap()),
        ["c0", "c1"]
    );
    assert_eq!(
        ids(s.list_clients("t1", "c1", 2).await.unwrap()),
        ["c2", "c3"]
    );
    assert_eq!(ids(s.list_clients("t1", "c3", 2).await.unwrap()), [""; 0]);
    assert_eq!(ids(s.list_clients("t2", "", 10).await.unwrap()), ["c9"]);

    // The longest token lifetime among the tenant's clients, never below
    // the default id_token lifetime.
    assert_eq!(s.max_token_ttl("t1").await.unwrap(), DEFAULT_ID_TOKEN_TTL);
    let mut long = client("t1", "c4", false);
    long.access_token_ttl = DEFAULT_ID_TOKEN_TTL + 10;
    s.create_client(&long).await.unwrap();
    assert_eq!(
        s.max_token_ttl("t1").await.unwrap(),
        DEFAULT_ID_TOKEN_TTL + 10
    );
    assert_eq!(s.max_token_ttl("t2").await.unwrap(), DEFAULT_ID_TOKEN_TTL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_confidential_client_gets_a_new_secret() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    let confidential = client("t1", "conf", false);
    let public = client("t1", "pub", true);
    s.create_client(&confidential).await.unwrap();
    s.create_client(&public).await.unwrap();

    s.set_client_secret("t1", "conf", "new-hash").await.unwrap();
    assert_eq!(
        s.get_client("t1", "conf")
            .await
            .unwrap()
            .unwrap()
            .secret_hash,
        Some("new-hash".into())
    );
    assert_eq!(
        s.set_client_secret("t1", "pub", "new-hash").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.get_client("t1", "pub").await.unwrap(), Some(public));
    assert_eq!(
        s.set_client_secret("t2", "conf", "other").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.set_client_secret("t1", "nobody", "other").await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.get_client("t1", "conf")
            .await
            .unwrap()
            .unwrap()
            .secret_hash,
        Some("new-hash".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_client_revokes_its_grants_and_their_tokens() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    let mut with_origin = c.clone();
    with_origin.web_origins = vec!["https://app.example.com".into()];
    s.update_client(&with_origin).await.unwrap();
    let other = client("t1", "c2", false);
    s.create_client(&other).await.unwrap();

    let redeemed = grant("g1", &c, &u.sub, now, 60);
    make_grant(s, &redeemed).await;
    let won = exchange_code(
        s,
        &code_of("g1"),
        now,
        approve_code(successor("r1", now + 3600)),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    let pending = grant("g2", &c, &u.sub, now, 60);
    make_grant(s, &pending).await;
    let others = grant("g3", &other, &u.sub, now, 60);
    make_grant(s, &others).await;

    assert!(s.delete_client("t1", "c1", now + 5).await.unwrap());
    assert!(!s.delete_client("t1", "c1", now + 6).await.unwrap());
    assert_eq!(s.get_client("t1", "c1").await.unwrap(), None);
    assert!(!s
        .is_web_origin("t1", "https://app.example.com")
        .await
        .unwrap());
    for id in ["g1", "g2"] {
        assert_eq!(
            s.get_grant(id).await.unwrap().unwrap().revoked_at,
            Some(now + 5),
            "{id}"
        );
        let standing = s.token_standing("jti", Some(id), None).await.unwrap();
        assert!(!standing.grant_live && !standing.stands());
    }
    // Its refresh token and its unredeemed code no longer exchange.
    let lost = exchange_refresh(
        s,
        "r1",
        now + 10,
        approve_refresh(successor("r2", now + 3600)),
    )
    .await;
    assert_eq!(kind(&lost), "Lost");
    assert_eq!(s.refresh_token("r2").await.unwrap(), None);
    let lost = exchange_code(s, &code_of("g2"), now + 10, approve_code(None)).await;
    assert_eq!(kind(&lost), "Lost");

    // Another client's grant is untouched.
    assert_eq!(s.get_grant("g3").await.unwrap(), Some(others));
    assert!(!s.delete_client("t2", "c2", now).await.unwrap());
    assert!(s.get_client("t1", "c2").await.unwrap().is_some());
}
