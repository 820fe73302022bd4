//! Operators of the console, their sessions and the dashboard's counts
//! (operators.rs: `OperatorStore`).

use crate::*;
use keygate_core::events::Event;
use keygate_store::{Operator, OperatorPasskey, OperatorSession, PasskeyCeremony, StoreError};

fn operator(id: &str, email: &str, role: &str, tenant: Option<&str>) -> Operator {
    Operator {
        id: id.into(),
        email: email.into(),
        password_hash: "$argon2id$fake".into(),
        role: role.into(),
        tenant_id: tenant.map(str::to_string),
        totp_secret_sealed: None,
        totp_confirmed: false,
        created_at: 1000,
        disabled: false,
    }
}

fn op_session(hash: &str, operator_id: &str, now: i64) -> OperatorSession {
    OperatorSession {
        id_hash: hash.into(),
        operator_id: operator_id.into(),
        created_at: now,
        expires_at: now + 8 * 3600,
        last_seen_at: now,
        mfa_passed: false,
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_unique_by_email_listed_and_deleted_with_their_sessions() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    s.create_operator(&operator("o1", "b@example.com", "owner", None))
        .await
        .unwrap();
    s.create_operator(&operator("o2", "a@example.com", "viewer", Some("t1")))
        .await
        .unwrap();
    let taken = s
        .create_operator(&operator("o3", "a@example.com", "admin", None))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");

    let listed: Vec<_> = s
        .list_operators()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.email)
        .collect();
    assert_eq!(listed, ["a@example.com", "b@example.com"]);
    let o2 = s.operator_by_email("a@example.com").await.unwrap().unwrap();
    assert_eq!(o2, operator("o2", "a@example.com", "viewer", Some("t1")));
    assert_eq!(s.get_operator("o1").await.unwrap().unwrap().tenant_id, None);
    assert_eq!(s.get_operator("nobody").await.unwrap(), None);

    s.create_operator_session(&op_session("h1", "o2", now))
        .await
        .unwrap();
    s.create_operator_session(&op_session("h2", "o1", now))
        .await
        .unwrap();
    assert!(s.delete_operator("o2").await.unwrap());
    assert!(!s.delete_operator("o2").await.unwrap());
    assert_eq!(s.operator_session("h1", now).await.unwrap(), None);
    assert!(s.operator_session("h2", now).await.unwrap().is_some());
    assert_eq!(s.list_operators().await.unwrap().len(), 1);
}

fn op_passkey(id: &str, operator_id: &str, cred: &str, at: i64) -> OperatorPasskey {
    OperatorPasskey {
        id: id.into(),
        operator_id: operator_id.into(),
        credential_id: cred.into(),
        passkey: format!("{{\"cred\":\"{cred}\"}}"),
        name: format!("key {id}"),
        created_at: at,
        last_used_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_passkeys_are_unique_used_removed_and_deleted_with_their_operator() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    s.create_operator(&operator("o1", "a@example.com", "owner", None))
        .await
        .unwrap();
    s.create_operator(&operator("o2", "b@example.com", "viewer", None))
        .await
        .unwrap();
    s.create_operator_passkey(&op_passkey("p2", "o1", "cred-2", now + 1))
        .await
        .unwrap();
    s.create_operator_passkey(&op_passkey("p1", "o1", "cred-1", now))
        .await
        .unwrap();
    s.create_operator_passkey(&op_passkey("p3", "o2", "cred-3", now))
        .await
        .unwrap();
    // A credential id is registered once, whoever tries again.
    let again = s
        .create_operator_passkey(&op_passkey("p4", "o2", "cred-1", now))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let mine: Vec<_> = s.operator_passkeys("o1").await.unwrap();
    assert_eq!(
        mine,
        [
            op_passkey("p1", "o1", "cred-1", now),
            op_passkey("p2", "o1", "cred-2", now + 1)
        ]
    );
    assert_eq!(
        s.operator_passkey_by_credential("cred-3").await.unwrap(),
        Some(op_passkey("p3", "o2", "cred-3", now))
    );
    assert_eq!(
        s.operator_passkey_by_credential("nope").await.unwrap(),
        None
    );

    // A sign-in records the updated credential and when.
    assert!(s
        .operator_passkey_used("p1", "{\"counter\":2}", now + 5)
        .await
        .unwrap());
    assert!(!s
        .operator_passkey_used("gone", "{}", now + 5)
        .await
        .unwrap());
    let used = s
        .operator_passkey_by_credential("cred-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.passkey, "{\"counter\":2}");
    assert_eq!(used.last_used_at, Some(now + 5));

    // Removed only by its own operator.
    assert!(!s.delete_operator_passkey("o2", "p1").await.unwrap());
    assert!(s.delete_operator_passkey("o1", "p1").await.unwrap());
    assert!(!s.delete_operator_passkey("o1", "p1").await.unwrap());
    assert_eq!(s.operator_passkeys("o1").await.unwrap().len(), 1);

    // Deleting an operator deletes its passkeys, and only its own.
    assert!(s.delete_operator("o1").await.unwrap());
    assert_eq!(s.operator_passkeys("o1").await.unwrap(), []);
    assert_eq!(
        s.operator_passkey_by_credential("cred-2").await.unwrap(),
        None
    );
    assert_eq!(s.operator_passkeys("o2").await.unwrap().len(), 1);
}

/// The console's ceremonies live beside the people's, under the empty
/// tenant: a tenant's take never finds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_ceremonies_are_kept_apart_from_tenants() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let c = PasskeyCeremony {
        tenant_id: String::new(),
        user_sub: Some("o1".into()),
        kind: "operator-register".into(),
        state: "{}".into(),
        expires_at: now + 300,
    };
    s.create_passkey_ceremony("oh1", &c).await.unwrap();
    assert_eq!(
        s.take_passkey_ceremony("oh1", "t1", now).await.unwrap(),
        None
    );
    assert_eq!(
        s.take_passkey_ceremony("oh1", "", now).await.unwrap(),
        Some(c)
    );
    assert_eq!(s.take_passkey_ceremony("oh1", "", now).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_step_is_accepted_once_and_confirms_the_secret() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_operator(&operator("o1", "a@example.com", "owner", None))
        .await
        .unwrap();
    // No secret yet: nothing to accept.
    assert!(!s.use_operator_totp_step("o1", 100, true).await.unwrap());
    assert!(s.set_operator_totp("o1", "sealed-1").await.unwrap());
    // A second enrolment replaces the unconfirmed secret.
    assert!(s.set_operator_totp("o1", "sealed-2").await.unwrap());
    let o = s.get_operator("o1").await.unwrap().unwrap();
    assert_eq!(o.totp_secret_sealed.as_deref(), Some("sealed-2"));
    assert!(!o.totp_confirmed);
    // A sign-in's code does not count before the secret is confirmed.
    assert!(!s.use_operator_totp_step("o1", 100, false).await.unwrap());
    assert!(s.use_operator_totp_step("o1", 100, true).await.unwrap());
    assert!(s.get_operator("o1").await.unwrap().unwrap().totp_confirmed);
    // Confirmed: no new secret, no second confirmation.
    assert!(!s.set_operator_totp("o1", "sealed-3").await.unwrap());
    assert!(!s.use_operator_totp_step("o1", 101, true).await.unwrap());
    // The same step, or an earlier one, is refused; a later one once.
    assert!(!s.use_operator_totp_step("o1", 100, false).await.unwrap());
    assert!(!s.use_operator_totp_step("o1", 99, false).await.unwrap());
    assert!(s.use_operator_totp_step("o1", 101, false).await.unwrap());
    assert!(!s.use_operator_totp_step("o1", 101, false).await.unwrap());

    // Two nodes racing with the same code: one wins.
    let outcomes = join_two(db.reopen().await, db.reopen().await, |st| async move {
        st.use_operator_totp_step("o1", 200, false).await.unwrap()
    })
    .await;
    assert_eq!(outcomes.iter().filter(|w| **w).count(), 1, "{outcomes:?}");
}

async fn join_two<F, Fut>(
    a: std::sync::Arc<dyn keygate_store::Store>,
    b: std::sync::Arc<dyn keygate_store::Store>,
    f: F,
) -> Vec<bool>
where
    F: Fn(std::sync::Arc<dyn keygate_store::Store>) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let x = tokio::spawn(f(a));
    let y = tokio::spawn(f(b));
    vec![x.await.unwrap(), y.await.unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_and_pass_their_second_factor() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    s.create_operator(&operator("o1", "a@example.com", "owner", None))
        .await
        .unwrap();
    s.create_operator_session(&op_session("h1", "o1", now - 120))
        .await
        .unwrap();
    let found = s.operator_session("h1", now).await.unwrap().unwrap();
    assert!(!found.mfa_passed);
    assert_eq!(found.ip.as_deref(), Some("192.0.2.1"));
    // Seen: its last_seen_at moves (at most once a minute).
    let seen = s.operator_session("h1", now).await.unwrap().unwrap();
    assert_eq!(seen.last_seen_at, now);
    assert!(s.pass_operator_mfa("h1").await.unwrap());
    assert!(
        s.operator_session("h1", now)
            .await
            .unwrap()
            .unwrap()
            .mfa_passed
    );
    assert!(!s.pass_operator_mfa("nope").await.unwrap());
    // Past its end it is no session.
    assert_eq!(
        s.operator_session("h1", now - 120 + 8 * 3600)
            .await
            .unwrap(),
        None
    );
    assert!(s.delete_operator_session("h1").await.unwrap());
    assert!(!s.delete_operator_session("h1").await.unwrap());
    assert_eq!(s.operator_session("h1", now).await.unwrap(), None);
}

fn event(id: &str, tenant: &str, at: i64, kind: &str) -> Event {
    Event {
        id: id.into(),
        tenant_id: tenant.into(),
        at,
        kind: kind.into(),
        actor: "user:u1".into(),
        ip: None,
        subject: None,
        detail: serde_json::json!({}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_grants_are_counted_per_bucket_in_one_query() {
    let db = Db::open().await;
    let s = &*db.store;
    let since = 1_000_000 * 3600;
    let until = since + 3 * 3600;
    let mut n = 0;
    let mut add = |tenant: &'static str, at: i64, kind: &'static str| {
        n += 1;
        event(&format!("e{n:03}"), tenant, at, kind)
    };
    let events = [
        add("t1", since, "user.signed_in"),
        add("t1", since + 3599, "user.signed_in"),
        add("t1", since + 10, "user.sign_in_failed"),
        add("t1", since + 2 * 3600 + 5, "user.signed_in"),
        add("t2", since + 20, "user.signed_in"),
        add("t1", since + 30, "user.registered"),
        add("t1", since - 1, "user.signed_in"),
        add("t1", until, "user.signed_in"),
    ];
    for e in &events {
        s.append_event(e, until + 86_400).await.unwrap();
    }
    let kinds = vec![
        "user.signed_in".to_string(),
        "user.sign_in_failed".to_string(),
    ];
    let t1 = s
        .count_events_by_bucket(Some("t1"), &kinds, since, until, 3600)
        .await
        .unwrap();
    assert_eq!(
        t1,
        [
            (since, "user.sign_in_failed".to_string(), 1),
            (since, "user.signed_in".to_string(), 2),
            (since + 2 * 3600, "user.signed_in".to_string(), 1),
        ]
    );
    let all = s
        .count_events_by_bucket(None, &kinds, since, until, 3600)
        .await
        .unwrap();
    assert!(
        all.contains(&(since, "user.signed_in".to_string(), 3)),
        "{all:?}"
    );
    // Six-hour buckets hold everything in one.
    let wide = s
        .count_events_by_bucket(Some("t1"), &kinds[..1], since, until, 6 * 3600)
        .await
        .unwrap();
    assert_eq!(wide, [(since, "user.signed_in".to_string(), 3)]);
    assert!(s
        .count_events_by_bucket(None, &[], since, until, 3600)
        .await
        .unwrap()
        .is_empty());

    // Grants: counted by creation time, per tenant.
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let c1 = client("t1", "c1", false);
    let c2 = client("t2", "c2", false);
    s.create_client(&c1).await.unwrap();
    s.create_client(&c2).await.unwrap();
    make_grant(s, &grant("g1", &c1, "u1", since + 1, 60)).await;
    make_grant(s, &grant("g2", &c1, "u1", since + 3700, 60)).await;
    make_grant(s, &grant("g3", &c1, "u1", since + 3800, 60)).await;
    make_grant(s, &grant("g4", &c2, "u1", since + 5, 60)).await;
    make_grant(s, &grant("g5", &c1, "u1", until + 5, 60)).await;
    assert_eq!(
        s.count_grants_by_bucket(Some("t1"), since, until, 3600)
            .await
            .unwrap(),
        [(since, 1), (since + 3600, 2)]
    );
    assert_eq!(
        s.count_grants_by_bucket(None, since, until, 3600)
            .await
            .unwrap(),
        [(since, 2), (since + 3600, 2)]
    );
}
