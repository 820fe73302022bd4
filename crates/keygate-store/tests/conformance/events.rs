//! The audit events (keygate-store/src/events.rs): appended, listed newest
//! first by id, filtered by every part of an `EventFilter`, paged by
//! `before`, and swept once past their `expires_at`.

use crate::*;
use keygate_core::events::{Event, EventFilter};
use keygate_store::Store;

fn event(id: &str, tenant: &str, at: i64, kind: &str, actor: &str, subject: Option<&str>) -> Event {
    Event {
        id: id.into(),
        tenant_id: tenant.into(),
        at,
        kind: kind.into(),
        actor: actor.into(),
        ip: Some("127.0.0.1".into()),
        subject: subject.map(str::to_string),
        detail: serde_json::json!({"resource": "client", "fields": ["name"]}),
    }
}

fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

/// Five events of two tenants, ids in time order (as the server makes
/// them: hex milliseconds first).
async fn filled(s: &dyn Store, now: i64) {
    let rows = [
        event(
            "0001a",
            "t1",
            100,
            "user.signed_in",
            "user:u1",
            Some("user:u1"),
        ),
        event("0001b", "t1", 200, "user.sign_in_failed", "anonymous", None),
        event(
            "0001c",
            "t2",
            300,
            "admin.created",
            "cli",
            Some("client:c1"),
        ),
        event(
            "0001d",
            "t1",
            400,
            "user.signed_in",
            "user:u2",
            Some("user:u2"),
        ),
        event(
            "0001e",
            "",
            500,
            "admin.updated",
            "admin-token:static",
            Some("tenant:t1"),
        ),
    ];
    for e in &rows {
        s.append_event(e, now + 3600).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_back_as_written_newest_first() {
    let db = Db::open().await;
    let s = &*db.store;
    filled(s, now()).await;
    let all = s.list_events(&EventFilter::default(), 50).await.unwrap();
    assert_eq!(ids(&all), ["0001e", "0001d", "0001c", "0001b", "0001a"]);
    let first = all.last().unwrap();
    assert_eq!(
        first,
        &event(
            "0001a",
            "t1",
            100,
            "user.signed_in",
            "user:u1",
            Some("user:u1")
        )
    );
    assert_eq!(all[3].subject, None);
    assert_eq!(all[3].detail["fields"], serde_json::json!(["name"]));
    // The limit cuts the oldest.
    let two = s.list_events(&EventFilter::default(), 2).await.unwrap();
    assert_eq!(ids(&two), ["0001e", "0001d"]);
    // An id is written once: the log is append-only.
    let again = event("0001a", "t1", 1, "key.rotated", "cli", None);
    assert!(s.append_event(&again, now() + 3600).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_narrows_the_list() {
    let db = Db::open().await;
    let s = &*db.store;
    filled(s, now()).await;
    let list = |f: EventFilter| async move { s.list_events(&f, 50).await.unwrap() };
    let tenant = |t: &str| EventFilter {
        tenant_id: Some(t.into()),
        ..EventFilter::default()
    };
    assert_eq!(ids(&list(tenant("t1")).await), ["0001d", "0001b", "0001a"]);
    assert_eq!(ids(&list(tenant("")).await), ["0001e"]);
    assert!(list(tenant("nope")).await.is_empty());
    let types = EventFilter {
        types: vec!["user.signed_in".into(), "admin.created".into()],
        ..EventFilter::default()
    };
    assert_eq!(ids(&list(types).await), ["0001d", "0001c", "0001a"]);
    let actor = EventFilter {
        actor: Some("cli".into()),
        ..EventFilter::default()
    };
    assert_eq!(ids(&list(actor).await), ["0001c"]);
    let subject = EventFilter {
        subject: Some("user:u2".into()),
        ..EventFilter::default()
    };
    assert_eq!(ids(&list(subject).await), ["0001d"]);
    // since is inclusive, until exclusive.
    let window = EventFilter {
        since: Some(200),
        until: Some(400),
        ..EventFilter::default()
    };
    assert_eq!(ids(&list(window).await), ["0001c", "0001b"]);
    // All at once.
    let all = EventFilter {
        tenant_id: Some("t1".into()),
        types: vec!["user.signed_in".into()],
        actor: Some("user:u1".into()),
        subject: Some("user:u1".into()),
        since: Some(100),
        until: Some(101),
        before: Some("0001b".into()),
    };
    assert_eq!(ids(&list(all).await), ["0001a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_each_other_by_before() {
    let db = Db::open().await;
    let s = &*db.store;
    filled(s, now()).await;
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let f = EventFilter {
            before: before.clone(),
            ..EventFilter::default()
        };
        let page = s.list_events(&f, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|e| e.id.clone());
        seen.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(seen, ["0001e", "0001d", "0001c", "0001b", "0001a"]);
    // With a filter, the cursor pages within it.
    let f = EventFilter {
        tenant_id: Some("t1".into()),
        before: Some("0001d".into()),
        ..EventFilter::default()
    };
    assert_eq!(ids(&s.list_events(&f, 1).await.unwrap()), ["0001b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_events_past_their_retention_only() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let old = event("0000a", "t1", now - 100, "user.signed_in", "user:u1", None);
    let live = event("0000b", "t1", now - 50, "user.signed_in", "user:u1", None);
    s.append_event(&old, now - 1).await.unwrap();
    s.append_event(&live, now + 100).await.unwrap();
    let swept = s.sweep(now, 100).await.unwrap();
    assert!(swept.contains(&("events", 1)), "{swept:?}");
    let left = s.list_events(&EventFilter::default(), 50).await.unwrap();
    assert_eq!(ids(&left), ["0000b"]);
}
