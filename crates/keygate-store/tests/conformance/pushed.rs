//! Pushed authorization requests (src/pushed.rs, `PushedRequestStore`): a
//! request is found only by its tenant and client while live, opening it
//! once extends its life, it is used once by one of racing callers, and
//! never after it expired.

use crate::*;
use keygate_store::PushedRequest;

fn pushed(expires_at: i64) -> PushedRequest {
    PushedRequest {
        tenant_id: "t1".into(),
        client_id: "c1".into(),
        params: "client_id=c1&response_type=code".into(),
        expires_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pushed_request_opens_for_its_client_and_is_used_once() {
    let db = Db::open().await;
    let s = db.store.clone();
    let t = now();
    s.create_pushed_request("h1", &pushed(t + 60))
        .await
        .unwrap();
    // Another tenant or client finds nothing.
    assert!(s
        .open_pushed_request("h1", "t2", "c1", t, t + 1800)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .open_pushed_request("h1", "t1", "c2", t, t + 1800)
        .await
        .unwrap()
        .is_none());
    // Opening extends its life; a second open keeps that expiry.
    let r = s
        .open_pushed_request("h1", "t1", "c1", t, t + 1800)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.params, "client_id=c1&response_type=code");
    assert_eq!(r.expires_at, t + 1800);
    let r = s
        .open_pushed_request("h1", "t1", "c1", t + 100, t + 5000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.expires_at, t + 1800);
    // Used once.
    assert!(s.use_pushed_request("h1", t + 200).await.unwrap());
    assert!(!s.use_pushed_request("h1", t + 201).await.unwrap());
    assert!(s
        .open_pushed_request("h1", "t1", "c1", t + 202, t + 2000)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unopened_request_expires_and_is_swept() {
    let db = Db::open().await;
    let s = db.store.clone();
    let t = now();
    s.create_pushed_request("h2", &pushed(t + 60))
        .await
        .unwrap();
    assert!(s
        .open_pushed_request("h2", "t1", "c1", t + 61, t + 1800)
        .await
        .unwrap()
        .is_none());
    assert!(!s.use_pushed_request("h2", t + 61).await.unwrap());
    let swept = s.sweep(t + 61, 100).await.unwrap();
    let n = swept
        .iter()
        .find(|(table, _)| *table == "pushed_requests")
        .unwrap()
        .1;
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uses_have_one_winner() {
    let db = Db::open().await;
    let t = now();
    db.store
        .create_pushed_request("h3", &pushed(t + 60))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = db.store.clone();
        tasks.push(tokio::spawn(async move {
            s.use_pushed_request("h3", t).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap() as i32;
    }
    assert_eq!(wins, 1);
}
