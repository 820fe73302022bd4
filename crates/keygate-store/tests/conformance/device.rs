//! Device authorizations (src/device.rs, `DeviceStore`, RFC 8628): found
//! by either code's hash, one live row per user code, polls recorded while
//! pending, one answer wins among racing ones, allowing stores its grant in
//! the same transaction (whose code is then consumed once), a tenant's go
//! with it, and the sweep deletes expired ones.

use crate::*;
use keygate_core::device::{DeviceAuthorization, DeviceStatus};

fn pending(c: &keygate_core::model::Client, created_at: i64, ttl: i64) -> DeviceAuthorization {
    DeviceAuthorization {
        tenant_id: c.tenant_id.clone(),
        client_id: c.id.clone(),
        scope: "openid offline_access".into(),
        resource: Some("https://api.example/".into()),
        created_at,
        expires_at: created_at + ttl,
        interval: 5,
        last_polled_at: None,
        status: DeviceStatus::Pending,
        user_sub: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_authorization_is_found_by_either_code() {
    let db = Db::open().await;
    let s = db.store.clone();
    let (c, _) = setting(&*s).await;
    let t = now();
    let d = pending(&c, t, 600);
    assert!(s
        .create_device_authorization("dev-1", "user-1", &d)
        .await
        .unwrap());
    assert_eq!(
        s.device_authorization("dev-1").await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(
        s.device_authorization_by_user_code("user-1").await.unwrap(),
        Some(("dev-1".to_string(), d.clone()))
    );
    assert_eq!(s.device_authorization("user-1").await.unwrap(), None);
    assert_eq!(
        s.device_authorization_by_user_code("dev-1").await.unwrap(),
        None
    );
    // Polls are recorded, with the interval, while pending.
    s.record_device_poll("dev-1", t + 1, 10).await.unwrap();
    let polled = s.device_authorization("dev-1").await.unwrap().unwrap();
    assert_eq!((polled.last_polled_at, polled.interval), (Some(t + 1), 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_code_belongs_to_one_live_device_authorization() {
    let db = Db::open().await;
    let s = db.store.clone();
    let (c, _) = setting(&*s).await;
    let t = now();
    assert!(s
        .create_device_authorization("dev-1", "user-1", &pending(&c, t, 600))
        .await
        .unwrap());
    // Taken while the first lives: refused, and the first is untouched.
    assert!(!s
        .create_device_authorization("dev-2", "user-1", &pending(&c, t + 10, 600))
        .await
        .unwrap());
    assert_eq!(s.device_authorization("dev-2").await.unwrap(), None);
    assert_eq!(
        s.device_authorization_by_user_code("user-1")
            .await
            .unwrap()
            .unwrap()
            .0,
        "dev-1"
    );
    // Once the first expired, the code is free again and the new one holds it.
    let later = pending(&c, t + 600, 600);
    assert!(s
        .create_device_authorization("dev-3", "user-1", &later)
        .await
        .unwrap());
    assert_eq!(s.device_authorization("dev-1").await.unwrap(), None);
    assert_eq!(
        s.device_authorization_by_user_code("user-1").await.unwrap(),
        Some(("dev-3".to_string(), later))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn allowing_stores_the_grant_whose_code_is_consumed_once() {
    let db = Db::open().await;
    let s = db.store.clone();
    let (c, u) = setting(&*s).await;
    let t = now();
    assert!(s
        .create_device_authorization("dev-1", "user-1", &pending(&c, t, 600))
        .await
        .unwrap());
    let g = grant("g-dev", &c, &u.sub, t + 5, 595);
    // Racing answers (two tabs, two nodes): exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                s.approve_device("dev-1", &g, "device:dev-1", t + 5)
                    .await
                    .unwrap()
            } else {
                s.deny_device("dev-1", "u1", t + 5).await.unwrap()
            }
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    let answered = s.device_authorization("dev-1").await.unwrap().unwrap();
    assert_eq!(answered.user_sub.as_deref(), Some("u1"));
    match answered.status {
        DeviceStatus::Approved { grant_id } => {
            assert_eq!(grant_id, "g-dev");
            assert_eq!(s.get_grant("g-dev").await.unwrap(), Some(g.clone()));
            // The grant's code: consumed once, the second time lost.
            let won = exchange_code(&*s, "device:dev-1", t + 6, approve_code(None)).await;
            assert_eq!(kind(&won), "Won");
            let lost = exchange_code(&*s, "device:dev-1", t + 7, approve_code(None)).await;
            assert_eq!(kind(&lost), "Lost");
        }
        DeviceStatus::Denied => {
            assert_eq!(s.get_grant("g-dev").await.unwrap(), None);
            assert_eq!(db.count("SELECT COUNT(*) FROM grants").await, 0);
        }
        DeviceStatus::Pending => panic!("an answer won but it is still pending"),
    }
    // Answered: no further answer, and polls change nothing.
    assert!(!s.deny_device("dev-1", "u1", t + 8).await.unwrap());
    let other = grant("g-other", &c, &u.sub, t + 8, 590);
    assert!(!s
        .approve_device("dev-1", &other, "device:x", t + 8)
        .await
        .unwrap());
    assert_eq!(s.get_grant("g-other").await.unwrap(), None);
    s.record_device_poll("dev-1", t + 9, 10).await.unwrap();
    let after = s.device_authorization("dev-1").await.unwrap().unwrap();
    assert_eq!((after.last_polled_at, after.interval), (None, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_device_authorization_takes_no_answer() {
    let db = Db::open().await;
    let s = db.store.clone();
    let (c, u) = setting(&*s).await;
    let t = now();
    assert!(s
        .create_device_authorization("dev-1", "user-1", &pending(&c, t - 700, 600))
        .await
        .unwrap());
    let g = grant("g-late", &c, &u.sub, t, 600);
    assert!(!s
        .approve_device("dev-1", &g, "device:dev-1", t)
        .await
        .unwrap());
    assert!(!s.deny_device("dev-1", "u1", t).await.unwrap());
    assert_eq!(s.get_grant("g-late").await.unwrap(), None);
    assert_eq!(
        s.device_authorization("dev-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        DeviceStatus::Pending
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_and_tenant_deletion_remove_device_authorizations() {
    let db = Db::open().await;
    let s = db.store.clone();
    let (c, _) = setting(&*s).await;
    let t = now();
    assert!(s
        .create_device_authorization("old", "user-old", &pending(&c, t - 700, 600))
        .await
        .unwrap());
    assert!(s
        .create_device_authorization("live", "user-live", &pending(&c, t, 600))
        .await
        .unwrap());
    let swept = s.sweep(t, 100).await.unwrap();
    let n = swept
        .iter()
        .find(|(table, _)| *table == "device_codes")
        .unwrap()
        .1;
    assert_eq!(n, 1);
    assert_eq!(s.device_authorization("old").await.unwrap(), None);
    assert!(s.device_authorization("live").await.unwrap().is_some());
    assert!(s.delete_tenant("t1").await.unwrap());
    assert_eq!(db.count("SELECT COUNT(*) FROM device_codes").await, 0);
}
