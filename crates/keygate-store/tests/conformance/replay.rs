//! Single use of values (src/replay.rs, `ReplayStore`): a key is new once
//! until it expires, racing callers get exactly one winner, an expired key
//! may be used again, and the sweep deletes expired keys.

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_is_used_once_until_it_expires() {
    let db = Db::open().await;
    let s = db.store.clone();
    let t = now();
    assert!(s.first_use("dpop:t1:a", t + 60, t).await.unwrap());
    assert!(!s.first_use("dpop:t1:a", t + 60, t).await.unwrap());
    assert!(!s.first_use("dpop:t1:a", t + 120, t + 30).await.unwrap());
    // Another key is unaffected.
    assert!(s.first_use("dpop:t1:b", t + 60, t).await.unwrap());
    // Once expired, the same key counts as new again, until its new expiry.
    assert!(s.first_use("dpop:t1:a", t + 200, t + 61).await.unwrap());
    assert!(!s.first_use("dpop:t1:a", t + 200, t + 150).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uses_have_one_winner() {
    let db = Db::open().await;
    let t = now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = db.store.clone();
        tasks.push(tokio::spawn(async move {
            s.first_use("jwt:t1:race", t + 60, t).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_deletes_expired_values() {
    let db = Db::open().await;
    let s = db.store.clone();
    let t = now();
    assert!(s.first_use("old", t - 10, t - 100).await.unwrap());
    assert!(s.first_use("live", t + 100, t).await.unwrap());
    let swept = s.sweep(t, 100).await.unwrap();
    let n = swept
        .iter()
        .find(|(table, _)| *table == "seen_values")
        .unwrap()
        .1;
    assert_eq!(n, 1);
    // The live one is still remembered.
    assert!(!s.first_use("live", t + 100, t).await.unwrap());
}
