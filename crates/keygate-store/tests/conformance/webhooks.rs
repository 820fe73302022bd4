//! Webhooks: the fan-out of an appended event to the webhooks subscribed
//! to its type, in the same write; the delivery queue claimed by any node
//! without overlap; retries, outcomes, the delivery log and the sweep.

use crate::harness::*;
use keygate_core::events::Event;
use keygate_store::{Store, Webhook};
use std::collections::HashSet;
use std::sync::Arc;

fn hook(tenant: &str, id: &str, types: &[&str]) -> Webhook {
    Webhook {
        tenant_id: tenant.into(),
        id: id.into(),
        url: format!("https://hooks.example.com/{id}"),
        secret_sealed: "sealed".into(),
        types: types.iter().map(|t| t.to_string()).collect(),
        created_at: now(),
    }
}

fn event(tenant: &str, id: &str, kind: &str, at: i64) -> Event {
    Event {
        id: id.into(),
        tenant_id: tenant.into(),
        at,
        kind: kind.into(),
        actor: "system".into(),
        ip: None,
        subject: None,
        detail: serde_json::json!({}),
    }
}

async fn hooks(s: &dyn Store) {
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    s.create_webhook(&hook("t1", "all", &[])).await.unwrap();
    s.create_webhook(&hook("t1", "fail", &["user.sign_in_failed"]))
        .await
        .unwrap();
    s.create_webhook(&hook("t1", "reg", &["user.registered", "user.signed_in"]))
        .await
        .unwrap();
    s.create_webhook(&hook("t2", "other", &[])).await.unwrap();
}

#[tokio::test]
async fn webhooks_are_created_listed_read_and_deleted_per_tenant() {
    let db = Db::open().await;
    let s = &*db.store;
    hooks(s).await;
    let listed: Vec<_> = s
        .list_webhooks("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, ["all", "fail", "reg"]);
    let reg = s.get_webhook("t1", "reg").await.unwrap().unwrap();
    assert_eq!(reg.types, ["user.registered", "user.signed_in"]);
    assert_eq!(reg.secret_sealed, "sealed");
    assert!(s
        .get_webhook("t1", "all")
        .await
        .unwrap()
        .unwrap()
        .types
        .is_empty());
    // Another tenant's webhook is not found under this one.
    assert_eq!(s.get_webhook("t1", "other").await.unwrap(), None);
    assert!(!s.delete_webhook("t1", "other").await.unwrap());
    assert!(s.delete_webhook("t1", "reg").await.unwrap());
    assert!(!s.delete_webhook("t1", "reg").await.unwrap());
    assert_eq!(s.get_webhook("t1", "reg").await.unwrap(), None);
    assert_eq!(s.list_webhooks("t2").await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_event_is_queued_for_each_webhook_of_its_tenant_subscribed_to_its_type() {
    let db = Db::open().await;
    let s = &*db.store;
    hooks(s).await;
    let t = now();
    s.append_event(&event("t1", "e1", "user.sign_in_failed", t), t + 60)
        .await
        .unwrap();
    s.append_event(&event("t1", "e2", "user.signed_in", t), t + 60)
        .await
        .unwrap();
    // A type no specific webhook lists, and a deployment-wide event.
    s.append_event(&event("t1", "e3", "key.rotated", t), t + 60)
        .await
        .unwrap();
    s.append_event(&event("", "e4", "admin.created", t), t + 60)
        .await
        .unwrap();
    let events_of = |id: &'static str| async move {
        let mut v: Vec<String> = s
            .deliveries_of("t1", id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.event_id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(events_of("all").await, ["e1", "e2", "e3"]);
    assert_eq!(events_of("fail").await, ["e1"]);
    assert_eq!(events_of("reg").await, ["e2"]);
    assert!(s.deliveries_of("t2", "other", 10).await.unwrap().is_empty());
    let d = &s.deliveries_of("t1", "fail", 10).await.unwrap()[0];
    assert!(d.id.starts_with("msg_"), "{}", d.id);
    assert_eq!(d.event_type, "user.sign_in_failed");
    assert_eq!((d.attempts, d.next_attempt_at, d.created_at), (0, t, t));
    assert_eq!(
        (d.delivered_at, d.given_up_at, d.last_status),
        (None, None, None)
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM webhook_deliveries").await, 5);
}

#[tokio::test]
async fn a_delivery_keeps_its_id_across_retries_and_ends_delivered_or_given_up() {
    let db = Db::open().await;
    let s = &*db.store;
    hooks(s).await;
    let t = now();
    s.append_event(&event("t1", "e1", "user.sign_in_failed", t), t + 60)
        .await
        .unwrap();
    // Two deliveries (all, fail); the first claim takes both.
    let first = s.claim_deliveries("c1", t, 60, 10).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|d| d.attempts == 1));
    // Held by the lease: nothing more to claim.
    assert!(s
        .claim_deliveries("c2", t, 60, 10)
        .await
        .unwrap()
        .is_empty());
    let (a, b) = (&first[0], &first[1]);
    s.delivery_failed(&a.id, Some(500), "the answer was HTTP 500", t + 10)
        .await
        .unwrap();
    s.delivery_failed(&b.id, None, "connection refused", t + 10)
        .await
        .unwrap();
    // Not due before its time, however free.
    assert!(s
        .claim_deliveries("c3", t + 9, 60, 10)
        .await
        .unwrap()
        .is_empty());
    let second = s.claim_deliveries("c4", t + 10, 60, 10).await.unwrap();
    assert_eq!(second.len(), 2);
    let again = second.iter().find(|d| d.id == a.id).unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_status, Some(500));
    assert_eq!(again.last_error.as_deref(), Some("the answer was HTTP 500"));
    s.delivery_succeeded(&a.id, 204, t + 11).await.unwrap();
    s.delivery_given_up(&b.id, None, "connection refused", t + 11)
        .await
        .unwrap();
    // Finished: never claimed again, even past its lease.
    assert!(s
        .claim_deliveries("c5", t + 1000, 60, 10)
        .await
        .unwrap()
        .is_empty());
    // A late report of a finished delivery changes nothing.
    s.delivery_failed(&a.id, Some(500), "late", t + 2000)
        .await
        .unwrap();
    let log = s.deliveries_of("t1", &a.webhook_id, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].id, a.id);
    assert_eq!(log[0].delivered_at, Some(t + 11));
    assert_eq!(log[0].last_status, Some(204));
    assert_eq!(log[0].last_error, None);
    assert_eq!(log[0].attempts, 2);
    let log = s.deliveries_of("t1", &b.webhook_id, 10).await.unwrap();
    assert_eq!(log[0].given_up_at, Some(t + 11));
    assert_eq!(log[0].delivered_at, None);
    assert_eq!(log[0].last_error.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn a_lease_that_ran_out_is_claimed_by_another_node() {
    let db = Db::open().await;
    let s = &*db.store;
    hooks(s).await;
    let t = now();
    s.append_event(&event("t1", "e1", "user.sign_in_failed", t), t + 60)
        .await
        .unwrap();
    assert_eq!(s.claim_deliveries("dead", t, 60, 1).await.unwrap().len(), 1);
    let other = db.reopen().await;
    // The other delivery is still free; the claimed one is held until t+60.
    let got = other.claim_deliveries("live", t + 1, 60, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    let got = other
        .claim_deliveries("live2", t + 60, 60, 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_on_two_stores_share_out_the_deliveries_without_overlap() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_webhook(&hook("t1", "all", &[])).await.unwrap();
    let t = now();
    for i in 0..40 {
        s.append_event(
            &event("t1", &format!("e{i:02}"), "user.signed_in", t),
            t + 60,
        )
        .await
        .unwrap();
    }
    let other = db.reopen().await;
    let stores: Vec<Arc<dyn Store>> = vec![db.store.clone(), other];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            s.claim_deliveries(&format!("claim-{i}"), t, 300, 7)
                .await
                .unwrap()
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for d in task.await.unwrap() {
            assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
        }
    }
    assert_eq!(seen.len(), 40, "8 claims of 7 cover all 40");
}

#[tokio::test]
async fn deleting_a_webhook_deletes_its_deliveries_and_stops_new_ones() {
    let db = Db::open().await;
    let s = &*db.store;
    hooks(s).await;
    let t = now();
    s.append_event(&event("t1", "e1", "user.sign_in_failed", t), t + 60)
        .await
        .unwrap();
    assert!(s.delete_webhook("t1", "fail").await.unwrap());
    s.append_event(&event("t1", "e2", "user.sign_in_failed", t), t + 60)
        .await
        .unwrap();
    assert!(s.deliveries_of("t1", "fail", 10).await.unwrap().is_empty());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = 'fail'")
            .await,
        0
    );
    assert_eq!(s.deliveries_of("t1", "all", 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_sweep_deletes_deliveries_finished_30_days_ago_and_keeps_the_rest() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_webhook(&hook("t1", "all", &[])).await.unwrap();
    let t = now();
    let old = t - 31 * 86400;
    for id in ["old-done", "old-gone", "recent", "pending"] {
        s.append_event(&event("t1", id, "user.signed_in", old), t + 60)
            .await
            .unwrap();
    }
    let claimed = s.claim_deliveries("c", old, 60, 10).await.unwrap();
    let id_of = |e: &str| claimed.iter().find(|d| d.event_id == e).unwrap().id.clone();
    s.delivery_succeeded(&id_of("old-done"), 200, old)
        .await
        .unwrap();
    s.delivery_given_up(&id_of("old-gone"), Some(410), "gone", old)
        .await
        .unwrap();
    s.delivery_succeeded(&id_of("recent"), 200, t - 29 * 86400)
        .await
        .unwrap();
    s.delivery_failed(&id_of("pending"), None, "down", old + 10)
        .await
        .unwrap();
    let swept = s.sweep(t, 100).await.unwrap();
    let n = swept
        .iter()
        .find(|(table, _)| *table == "webhook_deliveries")
        .map(|(_, n)| *n);
    assert_eq!(n, Some(2));
    let mut left: Vec<_> = s
        .deliveries_of("t1", "all", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    left.sort();
    assert_eq!(left, ["pending", "recent"]);
}

#[tokio::test]
async fn deleting_a_tenant_deletes_its_webhooks_and_deliveries_only() {
    let db = Db::open().await;
    let s = &*db.store;
    hooks(s).await;
    let t = now();
    s.append_event(&event("t1", "e1", "user.signed_in", t), t + 60)
        .await
        .unwrap();
    s.append_event(&event("t2", "e2", "user.signed_in", t), t + 60)
        .await
        .unwrap();
    assert!(s.delete_tenant("t1").await.unwrap());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM webhooks WHERE tenant_id = 't1'")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM webhook_deliveries WHERE tenant_id = 't1'")
            .await,
        0
    );
    // A tenant made again with the same id inherits none of them.
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    assert!(s.list_webhooks("t1").await.unwrap().is_empty());
    assert_eq!(s.list_webhooks("t2").await.unwrap().len(), 1);
    assert_eq!(s.deliveries_of("t2", "other", 10).await.unwrap().len(), 1);
}
