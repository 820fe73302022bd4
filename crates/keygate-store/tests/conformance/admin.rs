//! Signing keys, the admin API's tokens, the sweep of expired rows and the
//! readiness of the store (lib.rs: "Signing keys", `sweep`, `ping`).

use crate::directory::key;
use crate::*;
use keygate_store::{AdminToken, LimitPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_migrated_and_ready_after_connect() {
    let db = Db::open().await;
    db.store.ping().await.unwrap();
    let migrations = if use_postgres() {
        keygate_store::postgres::MIGRATIONS
    } else {
        keygate_store::sqlite::MIGRATIONS
    };
    let applied = "SELECT COUNT(*) FROM keygate_migrations";
    assert_eq!(db.count(applied).await, migrations.len() as i64);
    let latest = migrations.iter().map(|m| m.version).max().unwrap();
    assert_eq!(
        db.count("SELECT MAX(version) FROM keygate_migrations")
            .await,
        latest
    );

    // Connecting again (another node, a restart) applies nothing twice and
    // sees what the first wrote.
    db.store.create_tenant(&tenant("t1", &[])).await.unwrap();
    let again = db.reopen().await;
    again.ping().await.unwrap();
    assert_eq!(db.count(applied).await, migrations.len() as i64);
    assert!(again.get_tenant("t1").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_are_inserted_once_per_position_and_retired() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let first = key("t1", "k1", 1);
    assert!(s.insert_signing_key(&first).await.unwrap());
    // Two nodes creating the first key at once agree on one (same tenant,
    // alg and seq): the second insert is a no-op, not an error.
    assert!(!s
        .insert_signing_key(&key("t1", "k1-rival", 1))
        .await
        .unwrap());
    assert!(!s.insert_signing_key(&first).await.unwrap());
    let second = key("t1", "k2", 2);
    assert!(s.insert_signing_key(&second).await.unwrap());
    let mut rsa = key("t1", "k3", 1);
    rsa.alg = "RS256".into();
    assert!(s.insert_signing_key(&rsa).await.unwrap());
    let theirs = key("t2", "k4", 1);
    assert!(s.insert_signing_key(&theirs).await.unwrap());

    // In (alg, seq) order, per tenant.
    assert_eq!(
        s.signing_keys("t1").await.unwrap(),
        [first.clone(), second.clone(), rsa.clone()]
    );
    assert_eq!(
        s.signing_keys("t2").await.unwrap(),
        std::slice::from_ref(&theirs)
    );
    assert_eq!(s.signing_keys("t3").await.unwrap(), []);

    s.set_key_retirement("k1", 12345).await.unwrap();
    s.set_key_retirement("nope", 12345).await.unwrap();
    let retired = keygate_store::StoredKey {
        retires_at: Some(12345),
        ..first
    };
    assert_eq!(s.signing_keys("t1").await.unwrap(), [retired, second, rsa]);
    assert_eq!(s.signing_keys("t2").await.unwrap(), [theirs]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tokens_are_found_by_hash_listed_and_deleted() {
    let db = Db::open().await;
    let s = &*db.store;
    let a1 = AdminToken {
        id: "a1".into(),
        created_at: 20,
    };
    let a2 = AdminToken {
        id: "a2".into(),
        created_at: 10,
    };
    s.create_admin_token(&a1, "h1").await.unwrap();
    s.create_admin_token(&a2, "h2").await.unwrap();
    assert!(s.create_admin_token(&a1, "h3").await.is_err());
    assert!(s
        .create_admin_token(
            &AdminToken {
                id: "a3".into(),
                created_at: 30
            },
            "h1"
        )
        .await
        .is_err());
    assert!(s.admin_token_exists("h1").await.unwrap());
    assert!(s.admin_token_exists("h2").await.unwrap());
    assert!(!s.admin_token_exists("h3").await.unwrap());
    assert_eq!(s.admin_token_id("h1").await.unwrap().as_deref(), Some("a1"));
    assert_eq!(s.admin_token_id("h3").await.unwrap(), None);
    assert_eq!(s.list_admin_tokens().await.unwrap(), [a2.clone(), a1]);

    assert!(s.delete_admin_token("a1").await.unwrap());
    assert!(!s.delete_admin_token("a1").await.unwrap());
    assert!(!s.admin_token_exists("h1").await.unwrap());
    assert_eq!(s.list_admin_tokens().await.unwrap(), [a2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_expired_rows_and_keeps_live_ones() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, _) = setting(s).await; // access tokens live 3600 s
    let day = 86400;

    s.create_session("s-old", &session("t1", "u1", now - 1))
        .await
        .unwrap();
    s.create_session("s-live", &session("t1", "u1", now + 100))
        .await
        .unwrap();
    s.revoke_jti("j-old", now - 1).await.unwrap();
    s.revoke_jti("j-live", now + 100).await.unwrap();
    let policy = LimitPolicy {
        max_failures: 5,
        window: 60,
        base_block: 30,
        max_block: 120,
    };
    s.reserve_attempt("rl-old", now - day - 10, &policy)
        .await
        .unwrap();
    s.reserve_attempt("rl-live", now, &policy).await.unwrap();
    let mut k = key("t1", "k-old", 1);
    k.retires_at = Some(now - day - 1);
    s.insert_signing_key(&k).await.unwrap();
    let mut k = key("t1", "k-retiring", 2);
    k.retires_at = Some(now - 10);
    s.insert_signing_key(&k).await.unwrap();
    s.insert_signing_key(&key("t1", "k-live", 3)).await.unwrap();

    // Grants made two hours ago, codes long expired (beyond the access
    // token lifetime).
    let then = now - 7200;
    // Never redeemed: nothing descends from it any more.
    make_grant(s, &grant("g-unused", &c, "u1", then, 60)).await;
    // Redeemed; its refresh token expired more than an access token
    // lifetime ago: both go in one sweep.
    for (id, refresh_expiry) in [
        ("g-gone", now - 3601),
        // Its refresh token expired recently: access tokens minted with it
        // may still live, so it and its grant stay.
        ("g-recent", now - 10),
        ("g-live", now + 3600),
    ] {
        make_grant(s, &grant(id, &c, "u1", then, 60)).await;
        let won = exchange_code(
            s,
            &code_of(id),
            then + 1,
            approve_code(successor(&format!("r-{id}"), refresh_expiry)),
        )
        .await;
        assert_eq!(kind(&won), "Won", "{id}");
    }
    // Its code expired less than an access token lifetime ago.
    make_grant(s, &grant("g-fresh", &c, "u1", now - 100, 60)).await;

    // Sign-ins waiting for their second factor: the expired one goes.
    for (hash, expires_at) in [("p-old", now - 1), ("p-live", now + 300)] {
        let pending = keygate_store::MfaPending {
            tenant_id: "t1".into(),
            user_sub: "u1".into(),
            created_at: now - 300,
            expires_at,
            used_at: None,
            amr: vec!["pwd".into()],
            request: None,
        };
        s.create_mfa_pending(hash, &pending).await.unwrap();
    }
    // Registered clients (RFC 7591): one abandoned for over 30 days goes;
    // a young one, a used one and an operator's old client stay.
    let month = 31 * day;
    for (id, created, registered, used) in [
        ("reg-abandoned", now - month, true, None),
        ("reg-young", now - day, true, None),
        ("reg-used", now - month, true, Some(now - month + 5)),
        ("op-old", now - month, false, None),
    ] {
        let mut rc = client("t1", id, true);
        rc.created_at = created;
        rc.registration_token_hash = registered.then(|| format!("rat-{id}"));
        s.create_client(&rc).await.unwrap();
        if let Some(t) = used {
            s.mark_client_used("t1", id, t).await.unwrap();
        }
    }
    // Initial access tokens: the expired one goes.
    s.create_registration_token("iat-old", "t1", now - 100, now - 1)
        .await
        .unwrap();
    s.create_registration_token("iat-live", "t1", now - 100, now + 100)
        .await
        .unwrap();
    // Passkey ceremonies: the expired one goes.
    for (hash, expires_at) in [("c-old", now - 1), ("c-live", now + 300)] {
        let ceremony = keygate_store::PasskeyCeremony {
            tenant_id: "t1".into(),
            user_sub: None,
            kind: "sign-in".into(),
            state: "{}".into(),
            expires_at,
        };
        s.create_passkey_ceremony(hash, &ceremony).await.unwrap();
    }
    // Single-use values and pushed requests: the expired ones go.
    s.first_use("seen-old", now - 1, now - 10).await.unwrap();
    s.first_use("seen-live", now + 100, now).await.unwrap();
    for (hash, expires_at) in [("par-old", now - 1), ("par-live", now + 60)] {
        let pushed = keygate_store::PushedRequest {
            tenant_id: "t1".into(),
            client_id: "c1".into(),
            params: "client_id=c1".into(),
            expires_at,
        };
        s.create_pushed_request(hash, &pushed).await.unwrap();
    }
    // Device authorizations (RFC 8628): the expired one goes.
    for (hash, expires_at) in [("dev-old", now - 1), ("dev-live", now + 60)] {
        let device = keygate_core::device::DeviceAuthorization {
            tenant_id: "t1".into(),
            client_id: "c1".into(),
            scope: "openid".into(),
            resource: None,
            created_at: now - 600,
            expires_at,
            interval: 5,
            last_polled_at: None,
            status: keygate_core::device::DeviceStatus::Pending,
            user_sub: None,
        };
        let user_code = format!("user-{hash}");
        assert!(s
            .create_device_authorization(hash, &user_code, &device)
            .await
            .unwrap());
    }
    // Round trips to upstream identity providers: the expired one goes.
    for (hash, expires_at) in [("fed-old", now - 1), ("fed-live", now + 60)] {
        let state = keygate_core::federation::FederationState {
            tenant_id: "t1".into(),
            purpose: keygate_core::federation::StatePurpose::Trip,
            payload: "{}".into(),
            expires_at,
        };
        s.put_federation_state(hash, &state).await.unwrap();
    }
    // Audit events past their retention: the expired one goes.
    for (id, expires_at) in [("ev-old", now - 1), ("ev-live", now + 60)] {
        let event = keygate_core::events::Event {
            id: id.into(),
            tenant_id: "t1".into(),
            at: now - 100,
            kind: "user.signed_in".into(),
            actor: "user:u1".into(),
            ip: None,
            subject: None,
            detail: serde_json::json!({}),
        };
        s.append_event(&event, expires_at).await.unwrap();
    }
    // Console sessions: one ended, one live.
    for (id, expires_at) in [("op-s-old", now - 1), ("op-s-live", now + 3600)] {
        s.create_operator_session(&keygate_store::OperatorSession {
            id_hash: id.into(),
            operator_id: "op1".into(),
            created_at: now - 7200,
            expires_at,
            last_seen_at: now - 7200,
            mfa_passed: true,
            ip: None,
            user_agent: None,
        })
        .await
        .unwrap();
    }
    let swept = s.sweep(now, 100).await.unwrap();
    let mut swept: Vec<_> = swept.into_iter().collect();
    swept.sort();
    assert_eq!(
        swept,
        [
            // Finished logouts: tested in logouts.rs.
            ("backchannel_logouts", 0),
            ("clients", 1),
            ("device_codes", 1),
            ("events", 1),
            ("federation_states", 1),
            ("grants", 2),
            ("mfa_pending", 1),
            ("operator_sessions", 1),
            ("passkey_ceremonies", 1),
            ("pushed_requests", 1),
            ("rate_limits", 1),
            ("refresh_tokens", 1),
            ("registration_tokens", 1),
            ("revoked_jtis", 1),
            ("seen_values", 1),
            ("sessions", 1),
            ("signing_keys", 1),
            ("webhook_deliveries", 0),
        ]
    );
    assert!(s.get_client("t1", "reg-abandoned").await.unwrap().is_none());
    for id in ["reg-young", "reg-used", "op-old"] {
        assert!(s.get_client("t1", id).await.unwrap().is_some(), "{id}");
    }
    assert_eq!(
        s.get_client("t1", "reg-used")
            .await
            .unwrap()
            .unwrap()
            .first_used_at,
        Some(now - month + 5)
    );
    assert!(s
        .registration_token_valid("iat-live", "t1", now)
        .await
        .unwrap());
    assert!(!s
        .registration_token_valid("iat-live", "t2", now)
        .await
        .unwrap());
    assert!(!s
        .registration_token_valid("iat-old", "t1", now - 50)
        .await
        .unwrap());
    assert_eq!(s.federation_state("fed-old", now - 10).await.unwrap(), None);
    assert!(s.federation_state("fed-live", now).await.unwrap().is_some());
    assert_eq!(s.mfa_pending("p-old").await.unwrap(), None);
    assert!(s.mfa_pending("p-live").await.unwrap().is_some());
    assert_eq!(
        s.take_passkey_ceremony("c-old", "t1", now).await.unwrap(),
        None
    );
    assert!(s
        .take_passkey_ceremony("c-live", "t1", now)
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.get_session("s-old").await.unwrap(), None);
    assert!(s.get_session("s-live").await.unwrap().is_some());
    assert!(
        !s.token_standing("j-old", None, None)
            .await
            .unwrap()
            .jti_revoked
    );
    assert!(
        s.token_standing("j-live", None, None)
            .await
            .unwrap()
            .jti_revoked
    );
    // The swept key's counting starts over; the live key's goes on.
    assert_eq!(
        s.reserve_attempt("rl-old", now, &policy).await.unwrap(),
        keygate_store::Attempt::Granted { count: 1 }
    );
    assert_eq!(
        s.reserve_attempt("rl-live", now, &policy).await.unwrap(),
        keygate_store::Attempt::Granted { count: 2 }
    );
    let kids: Vec<String> = s
        .signing_keys("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k-retiring", "k-live"]);
    assert_eq!(s.get_grant("g-unused").await.unwrap(), None);
    assert_eq!(s.get_grant("g-gone").await.unwrap(), None);
    assert_eq!(s.refresh_token("r-g-gone").await.unwrap(), None);
    for id in ["g-recent", "g-live", "g-fresh"] {
        assert!(s.get_grant(id).await.unwrap().is_some(), "{id}");
    }
    assert!(s.refresh_token("r-g-recent").await.unwrap().is_some());
    assert!(s.refresh_token("r-g-live").await.unwrap().is_some());

    // Nothing more to do.
    let again = s.sweep(now, 100).await.unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_at_most_a_batch_per_table() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    setting(s).await;
    for i in 0..5 {
        s.create_session(&format!("s{i}"), &session("t1", "u1", now - 1))
            .await
            .unwrap();
    }
    s.create_session("live", &session("t1", "u1", now + 1))
        .await
        .unwrap();
    let sessions =
        |v: Vec<(&'static str, u64)>| v.into_iter().find(|(t, _)| *t == "sessions").unwrap().1;
    assert_eq!(sessions(s.sweep(now, 2).await.unwrap()), 2);
    assert_eq!(sessions(s.sweep(now, 2).await.unwrap()), 2);
    assert_eq!(sessions(s.sweep(now, 2).await.unwrap()), 1);
    assert_eq!(sessions(s.sweep(now, 2).await.unwrap()), 0);
    assert!(s.get_session("live").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_on_two_nodes_at_once_delete_each_row_once() {
    let db = Db::open().await;
    let now = now();
    setting(&*db.store).await;
    for i in 0..50 {
        db.store
            .create_session(&format!("s{i}"), &session("t1", "u1", now - 1))
            .await
            .unwrap();
        db.store
            .revoke_jti(&format!("j{i}"), now - 1)
            .await
            .unwrap();
    }
    db.store
        .create_session("live", &session("t1", "u1", now + 60))
        .await
        .unwrap();
    let two = [db.store.clone(), db.reopen().await];
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let (store, start) = (two[i % 2].clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.sweep(now, 100).await.unwrap()
        }));
    }
    let (mut sessions, mut jtis) = (0, 0);
    for t in tasks {
        for (table, n) in t.await.unwrap() {
            match table {
                "sessions" => sessions += n,
                "revoked_jtis" => jtis += n,
                _ => assert_eq!(n, 0, "{table}"),
            }
        }
    }
    assert_eq!((sessions, jtis), (50, 50));
    assert!(db.store.get_session("live").await.unwrap().is_some());
}
