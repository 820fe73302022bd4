//! Passkeys (src/passkeys.rs, `PasskeyStore`): a credential id is
//! registered once per tenant, found by it, listed per person, updated on
//! use, deleted only by its person and with the person or the tenant; a
//! ceremony is taken once, by one of racing callers, and never after it
//! expired.

use crate::*;
use keygate_store::{PasskeyCeremony, StoreError, StoredPasskey};

fn passkey(id: &str, tenant: &str, sub: &str, cred: &str, t: i64) -> StoredPasskey {
    StoredPasskey {
        id: id.into(),
        tenant_id: tenant.into(),
        user_sub: sub.into(),
        credential_id: cred.into(),
        passkey: format!("{{\"cred\":\"{cred}\"}}"),
        name: "Passkey".into(),
        created_at: t,
        last_used_at: None,
        backup_eligible: false,
    }
}

fn ceremony(sub: Option<&str>, expires_at: i64) -> PasskeyCeremony {
    PasskeyCeremony {
        tenant_id: "t1".into(),
        user_sub: sub.map(str::to_string),
        kind: "register".into(),
        state: "{\"rs\":{}}".into(),
        expires_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_credential_is_registered_once_per_tenant_and_found_by_its_id() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let t = now();
    let p1 = passkey("p1", "t1", &u.sub, "cred-1", t);
    s.create_passkey(&p1).await.unwrap();
    let again = s
        .create_passkey(&passkey("p2", "t1", "u2", "cred-1", t))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // Another tenant may hold the same credential id.
    s.create_passkey(&passkey("p3", "t2", &u.sub, "cred-1", t))
        .await
        .unwrap();
    assert_eq!(
        s.passkey_by_credential("t1", "cred-1").await.unwrap(),
        Some(p1.clone())
    );
    assert_eq!(s.passkey_by_credential("t1", "cred-9").await.unwrap(), None);
    assert_eq!(
        s.passkey_by_credential("t2", "cred-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        "p3"
    );
    s.create_passkey(&passkey("p4", "t1", &u.sub, "cred-4", t + 1))
        .await
        .unwrap();
    let listed: Vec<_> = s
        .passkeys("t1", &u.sub)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, ["p1", "p4"]);
    // A use records the updated credential and the time.
    assert!(s
        .passkey_used("t1", "p1", "{\"cred\":\"new\"}", true, t + 5)
        .await
        .unwrap());
    assert!(!s.passkey_used("t2", "p1", "{}", true, t + 5).await.unwrap());
    let used = s
        .passkey_by_credential("t1", "cred-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            used.passkey.as_str(),
            used.backup_eligible,
            used.last_used_at
        ),
        ("{\"cred\":\"new\"}", true, Some(t + 5))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passkeys_are_deleted_by_their_person_and_with_them_and_their_tenant() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.create_passkey(&passkey("p1", "t1", &u.sub, "cred-1", t))
        .await
        .unwrap();
    s.create_passkey(&passkey("p2", "t1", &u.sub, "cred-2", t + 1))
        .await
        .unwrap();
    assert!(!s.delete_passkey("t1", "other", "p1").await.unwrap());
    assert!(!s.delete_passkey("t2", &u.sub, "p1").await.unwrap());
    assert!(s.delete_passkey("t1", &u.sub, "p1").await.unwrap());
    assert!(!s.delete_passkey("t1", &u.sub, "p1").await.unwrap());
    assert_eq!(s.passkey_by_credential("t1", "cred-1").await.unwrap(), None);
    s.create_passkey_ceremony("h1", &ceremony(Some(&u.sub), t + 300))
        .await
        .unwrap();
    assert!(s.delete_user("t1", &u.sub, t + 2).await.unwrap());
    assert!(s.passkeys("t1", &u.sub).await.unwrap().is_empty());
    assert_eq!(db.count("SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM passkey_ceremonies").await, 0);

    s.create_user(&user("t1", "u2")).await.unwrap();
    s.create_passkey(&passkey("p3", "t1", "u2", "cred-3", t))
        .await
        .unwrap();
    s.create_passkey_ceremony("h2", &ceremony(None, t + 300))
        .await
        .unwrap();
    assert!(s.delete_tenant("t1").await.unwrap());
    assert_eq!(db.count("SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM passkey_ceremonies").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ceremony_is_taken_once_and_not_after_it_expires() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.create_passkey_ceremony("live", &ceremony(Some(&u.sub), t + 300))
        .await
        .unwrap();
    s.create_passkey_ceremony("old", &ceremony(None, t - 1))
        .await
        .unwrap();
    assert_eq!(s.take_passkey_ceremony("old", "t1", t).await.unwrap(), None);
    assert_eq!(
        s.take_passkey_ceremony("nope", "t1", t).await.unwrap(),
        None
    );
    // Another tenant's finish neither gets it nor uses it up.
    assert_eq!(
        s.take_passkey_ceremony("live", "t2", t).await.unwrap(),
        None
    );
    // Another node finishes what this one started.
    let other = db.reopen().await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 { s.clone() } else { other.clone() };
            tokio::spawn(async move { s.take_passkey_ceremony("live", "t1", t).await.unwrap() })
        })
        .collect();
    let mut taken = vec![];
    for task in tasks {
        taken.extend(task.await.unwrap());
    }
    assert_eq!(taken, vec![ceremony(Some(&u.sub), t + 300)]);
    assert_eq!(
        s.take_passkey_ceremony("live", "t1", t).await.unwrap(),
        None
    );
}
