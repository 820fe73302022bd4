//! The outbox (src/outbox.rs, `OutboxStore`) and password-reset links
//! (src/reset.rs, `ResetStore`): claims with a lease never hand one message
//! to two claimers; a failed message comes back when its next attempt is
//! due; a link is used once, by one of racing callers, and using it sets
//! the password, ends sessions and revokes grants together.

use crate::*;
use keygate_store::{NewMail, ResetLink};
use std::collections::HashSet;
use std::sync::Arc;

fn mail(id: &str, at: i64) -> NewMail {
    NewMail {
        id: id.into(),
        tenant_id: "t1".into(),
        recipient: format!("{id}@example.com"),
        subject: format!("subject {id}"),
        text: format!("text {id}"),
        html: format!("<p>html {id}</p>"),
        created_at: at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_message_is_leased_retried_when_due_and_never_resent_once_sent() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    s.enqueue_mail(&mail("m1", t)).await.unwrap();
    let got = s.claim_mail("claim-a", t, 300, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(
        (
            m.id.as_str(),
            m.recipient.as_str(),
            m.subject.as_str(),
            m.text.as_str(),
            m.html.as_str(),
            m.attempts
        ),
        (
            "m1",
            "m1@example.com",
            "subject m1",
            "text m1",
            "<p>html m1</p>",
            1
        )
    );
    // Leased: nobody else gets it until the lease ends.
    assert!(s
        .claim_mail("claim-b", t + 299, 300, 10)
        .await
        .unwrap()
        .is_empty());
    // Failed: due again at the given time, not before.
    s.mail_failed("m1", t + 10).await.unwrap();
    assert!(s
        .claim_mail("claim-c", t + 9, 300, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_mail("claim-d", t + 10, 300, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    // A lease that ran out (its node died) is claimed by another.
    let taken = s.claim_mail("claim-e", t + 311, 300, 10).await.unwrap();
    assert_eq!((taken.len(), taken[0].attempts), (1, 3));
    s.mail_sent("m1", t + 312).await.unwrap();
    assert!(s
        .claim_mail("claim-f", t + 100_000, 300, 10)
        .await
        .unwrap()
        .is_empty());
    // Swept a day after it was sent, not before.
    let swept = |v: Vec<(&'static str, u64)>| v.iter().find(|(n, _)| *n == "outbox").unwrap().1;
    assert_eq!(
        swept(s.sweep_outbox(t + 312 + 86_399, 100).await.unwrap()),
        0
    );
    assert_eq!(
        swept(s.sweep_outbox(t + 312 + 86_401, 100).await.unwrap()),
        1
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_share_out_the_messages_without_overlap() {
    let db = Db::open().await;
    let t = now();
    for i in 0..40 {
        db.store
            .enqueue_mail(&mail(&format!("m{i:02}"), t))
            .await
            .unwrap();
    }
    // A second store on the same database: another node.
    let other = db.reopen().await;
    let stores: Vec<Arc<dyn keygate_store::Store>> = vec![db.store.clone(), other];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            s.claim_mail(&format!("claim-{i}"), t, 300, 7)
                .await
                .unwrap()
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for m in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(m.id.clone()), "{} claimed twice", m.id);
        }
    }
    assert_eq!(total, 40, "8 claims of 7 cover all 40");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_link_is_used_once_and_using_it_ends_everything() {
    let db = Db::open().await;
    let (c, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    let link = |expires_at| ResetLink {
        tenant_id: "t1".into(),
        user_sub: u.sub.clone(),
        created_at: t,
        expires_at,
        used_at: None,
    };
    s.create_reset_link("h1", &link(t + 1800)).await.unwrap();
    s.create_reset_link("h2", &link(t + 1800)).await.unwrap();
    s.create_reset_link("old", &link(t - 1)).await.unwrap();
    assert_eq!(s.reset_link("h1").await.unwrap(), Some(link(t + 1800)));
    assert_eq!(s.reset_link("nope").await.unwrap(), None);
    s.create_session("sess", &session("t1", &u.sub, t + 3600))
        .await
        .unwrap();
    let g = grant("g1", &c, &u.sub, t, 60);
    make_grant(&*s, &g).await;

    // Expired, or not this person's: refused, nothing changes.
    assert!(!s
        .use_reset_link("old", "t1", &u.sub, "new-hash", t)
        .await
        .unwrap());
    assert!(!s
        .use_reset_link("h1", "t1", "someone-else", "new-hash", t)
        .await
        .unwrap());
    assert!(!s
        .use_reset_link("h1", "t2", &u.sub, "new-hash", t)
        .await
        .unwrap());
    assert_eq!(
        s.get_user("t1", &u.sub)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        u.password_hash
    );

    // Racing uses of one link: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = s.clone();
        let sub = u.sub.clone();
        tasks.push(tokio::spawn(async move {
            s.use_reset_link("h1", "t1", &sub, &format!("hash-{i}"), t)
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap() as i32;
    }
    assert_eq!(wins, 1);
    let now_hash = s
        .get_user("t1", &u.sub)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(now_hash.starts_with("hash-"), "{now_hash}");
    assert_eq!(s.get_session("sess").await.unwrap(), None, "sessions ended");
    assert!(
        s.get_grant("g1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "grants revoked"
    );
    assert_eq!(s.reset_link("h1").await.unwrap().unwrap().used_at, Some(t));
    // The person's other links were used up with it.
    assert!(!s
        .use_reset_link("h2", "t1", &u.sub, "again", t)
        .await
        .unwrap());
    // A disabled person's link does nothing.
    s.create_reset_link("h3", &link(t + 1800)).await.unwrap();
    let mut disabled = s.get_user("t1", &u.sub).await.unwrap().unwrap();
    disabled.disabled = true;
    s.update_user(&disabled, Some(t)).await.unwrap();
    assert!(!s.use_reset_link("h3", "t1", &u.sub, "x", t).await.unwrap());
    assert_eq!(s.reset_link("h3").await.unwrap().unwrap().used_at, None);
    // Expired links are swept.
    let swept = s.sweep_outbox(t + 1801, 100).await.unwrap();
    assert_eq!(
        swept.iter().find(|(n, _)| *n == "reset_tokens").unwrap().1,
        4
    );
}
