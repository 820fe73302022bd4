//! Second factors (src/factors.rs, `FactorStore`): a device is created
//! unconfirmed and confirmed once, listed per person, deleted only by its
//! person and with the person; a time step is accepted once, by one of
//! racing callers, and never an earlier one after a later one. Recovery
//! codes are replaced whole, used once (one winner among racing uses), go
//! with the last factor, with a reset of every factor and with the person.

use crate::*;
use keygate_store::{MfaPending, TotpDevice};

fn device(id: &str, sub: &str, t: i64) -> TotpDevice {
    TotpDevice {
        id: id.into(),
        tenant_id: "t1".into(),
        user_sub: sub.into(),
        name: "Authenticator app".into(),
        sealed_secret: format!("sealed-{id}"),
        created_at: t,
        confirmed_at: None,
        last_used_step: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_is_confirmed_once_and_a_step_is_used_once() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.create_totp_device(&device("d1", &u.sub, t))
        .await
        .unwrap();
    assert_eq!(
        s.totp_devices("t1", &u.sub).await.unwrap(),
        vec![device("d1", &u.sub, t)]
    );
    // Unconfirmed: no step is accepted.
    assert!(!s.use_totp_step("d1", 100).await.unwrap());
    // Someone else's device is not confirmed.
    assert!(!s
        .confirm_totp_device("t1", "other", "d1", "Phone", 100, t)
        .await
        .unwrap());
    assert!(s
        .confirm_totp_device("t1", &u.sub, "d1", "Phone", 100, t)
        .await
        .unwrap());
    assert!(!s
        .confirm_totp_device("t1", &u.sub, "d1", "Phone", 101, t)
        .await
        .unwrap());
    let d = &s.totp_devices("t1", &u.sub).await.unwrap()[0];
    assert_eq!(
        (d.confirmed_at, d.last_used_step, d.name.as_str()),
        (Some(t), Some(100), "Phone")
    );
    // The confirming step is used; the same or an earlier step is refused.
    assert!(!s.use_totp_step("d1", 100).await.unwrap());
    assert!(!s.use_totp_step("d1", 99).await.unwrap());
    assert!(s.use_totp_step("d1", 101).await.unwrap());
    assert!(!s.use_totp_step("d1", 101).await.unwrap());
    assert!(!s.use_totp_step("nope", 200).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uses_of_one_step_have_one_winner() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.create_totp_device(&device("d1", &u.sub, t))
        .await
        .unwrap();
    assert!(s
        .confirm_totp_device("t1", &u.sub, "d1", "Phone", 1, t)
        .await
        .unwrap());
    for step in 2..12 {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.use_totp_step("d1", step).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += task.await.unwrap() as usize;
        }
        assert_eq!(winners, 1, "step {step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_are_deleted_by_their_person_and_with_them() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.create_totp_device(&device("d1", &u.sub, t))
        .await
        .unwrap();
    s.create_totp_device(&device("d2", &u.sub, t + 1))
        .await
        .unwrap();
    assert!(!s.delete_totp_device("t1", "other", "d1").await.unwrap());
    assert!(!s.delete_totp_device("t2", &u.sub, "d1").await.unwrap());
    assert!(s.delete_totp_device("t1", &u.sub, "d1").await.unwrap());
    assert!(!s.delete_totp_device("t1", &u.sub, "d1").await.unwrap());
    let left: Vec<_> = s
        .totp_devices("t1", &u.sub)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(left, vec!["d2".to_string()]);
    assert!(s.delete_user("t1", &u.sub, t + 2).await.unwrap());
    assert!(s.totp_devices("t1", &u.sub).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_sign_in_is_finished_once_and_not_after_it_expires() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    let pending = |exp| MfaPending {
        tenant_id: "t1".into(),
        user_sub: u.sub.clone(),
        created_at: t,
        expires_at: exp,
        used_at: None,
        amr: vec!["pwd".into(), "otp".into()],
        request: Some("client_id=c&scope=openid".into()),
    };
    s.create_mfa_pending("p1", &pending(t + 300)).await.unwrap();
    s.create_mfa_pending("old", &pending(t - 1)).await.unwrap();
    assert_eq!(s.mfa_pending("p1").await.unwrap(), Some(pending(t + 300)));
    assert_eq!(s.mfa_pending("nope").await.unwrap(), None);
    assert!(!s.finish_mfa_pending("old", t).await.unwrap());
    assert!(!s.finish_mfa_pending("nope", t).await.unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.finish_mfa_pending("p1", t).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += task.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
    assert_eq!(s.mfa_pending("p1").await.unwrap().unwrap().used_at, Some(t));
}

fn hashes(prefix: &str) -> Vec<String> {
    (0..10).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_codes_are_replaced_whole_and_used_once() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 0);
    s.replace_recovery_codes("t1", &u.sub, &hashes("a"), t)
        .await
        .unwrap();
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 10);
    // Another person's or tenant's code, or an unknown one: not used.
    assert!(!s.use_recovery_code("t1", "other", "a-0", t).await.unwrap());
    assert!(!s.use_recovery_code("t2", &u.sub, "a-0", t).await.unwrap());
    assert!(!s.use_recovery_code("t1", &u.sub, "nope", t).await.unwrap());
    assert!(s.use_recovery_code("t1", &u.sub, "a-0", t).await.unwrap());
    assert!(!s.use_recovery_code("t1", &u.sub, "a-0", t).await.unwrap());
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 9);
    // Racing uses of one code: exactly one wins.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            let sub = u.sub.clone();
            tokio::spawn(async move { s.use_recovery_code("t1", &sub, "a-1", t).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += task.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 8);
    // New codes replace every earlier one, used or not.
    s.replace_recovery_codes("t1", &u.sub, &hashes("b"), t + 1)
        .await
        .unwrap();
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 10);
    assert!(!s.use_recovery_code("t1", &u.sub, "a-2", t).await.unwrap());
    assert!(s.use_recovery_code("t1", &u.sub, "b-2", t).await.unwrap());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM recovery_codes").await,
        10,
        "only the new codes are stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_codes_go_with_the_last_factor_a_reset_and_the_person() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.create_user(&user("t1", "u2")).await.unwrap();
    for (id, sub) in [("d1", u.sub.as_str()), ("d2", u.sub.as_str()), ("d3", "u2")] {
        s.create_totp_device(&device(id, sub, t)).await.unwrap();
        assert!(s
            .confirm_totp_device("t1", sub, id, "Phone", 1, t)
            .await
            .unwrap());
    }
    s.replace_recovery_codes("t1", &u.sub, &hashes("a"), t)
        .await
        .unwrap();
    s.replace_recovery_codes("t1", "u2", &hashes("b"), t)
        .await
        .unwrap();
    // A factor left: the codes stay.
    assert!(s.delete_totp_device("t1", &u.sub, "d1").await.unwrap());
    assert_eq!(
        s.delete_recovery_codes_without_factor("t1", &u.sub)
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 10);
    // An unconfirmed device is no factor: with the last confirmed one gone,
    // the codes go.
    s.create_totp_device(&device("d4", &u.sub, t))
        .await
        .unwrap();
    assert!(s.delete_totp_device("t1", &u.sub, "d2").await.unwrap());
    assert_eq!(
        s.delete_recovery_codes_without_factor("t1", &u.sub)
            .await
            .unwrap(),
        10
    );
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 0);
    assert_eq!(s.recovery_codes_left("t1", "u2").await.unwrap(), 10);

    // A reset removes every factor and code of the person and ends their
    // sessions; another person keeps theirs.
    s.replace_recovery_codes("t1", &u.sub, &hashes("c"), t)
        .await
        .unwrap();
    s.create_session("s1", &session("t1", &u.sub, t + 3600))
        .await
        .unwrap();
    s.create_session("s2", &session("t1", "u2", t + 3600))
        .await
        .unwrap();
    s.create_passkey(&keygate_store::StoredPasskey {
        id: "pk1".into(),
        tenant_id: "t1".into(),
        user_sub: u.sub.clone(),
        credential_id: "cred-1".into(),
        passkey: "{}".into(),
        name: "Passkey".into(),
        created_at: t,
        last_used_at: None,
        backup_eligible: false,
    })
    .await
    .unwrap();
    s.reset_factors("t1", &u.sub, now()).await.unwrap();
    assert!(s.totp_devices("t1", &u.sub).await.unwrap().is_empty());
    assert!(s.passkeys("t1", &u.sub).await.unwrap().is_empty());
    assert_eq!(s.recovery_codes_left("t1", &u.sub).await.unwrap(), 0);
    assert!(s.get_session("s1").await.unwrap().is_none());
    assert!(s.get_session("s2").await.unwrap().is_some());
    assert_eq!(s.totp_devices("t1", "u2").await.unwrap().len(), 1);
    assert_eq!(s.recovery_codes_left("t1", "u2").await.unwrap(), 10);
    // Resetting a person without factors changes nothing and fails not.
    s.reset_factors("t1", &u.sub, now()).await.unwrap();

    // Deleting the person deletes their codes; deleting the tenant, all.
    assert!(s.delete_user("t1", "u2", t).await.unwrap());
    assert_eq!(s.recovery_codes_left("t1", "u2").await.unwrap(), 0);
    s.replace_recovery_codes("t1", &u.sub, &hashes("d"), t)
        .await
        .unwrap();
    assert!(s.delete_tenant("t1").await.unwrap());
    assert_eq!(db.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
}
