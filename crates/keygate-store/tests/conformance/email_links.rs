//! E-mail links (src/email_links.rs, `EmailLinkStore`): a link is used
//! once, by one of racing callers, and not after it expires; a `verify`
//! link verifies only the address it was sent to; a `change` link moves the
//! person to its address, verified, ending their sessions and revoking
//! their grants, and is refused (and left unused) when the address was
//! taken meanwhile.

use crate::*;
use keygate_store::{EmailLink, EmailLinkPurpose, StoreError};

fn link(sub: &str, email: &str, purpose: EmailLinkPurpose, t: i64, expires_at: i64) -> EmailLink {
    EmailLink {
        tenant_id: "t1".into(),
        user_sub: sub.into(),
        email: email.into(),
        purpose,
        created_at: t,
        expires_at,
        used_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verify_link_is_used_once_and_verifies_only_its_address() {
    let db = Db::open().await;
    let (_, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    let verify = |email: &str, exp| link(&u.sub, email, EmailLinkPurpose::Verify, t, exp);
    s.create_email_link("v1", &verify(&u.email, t + 60))
        .await
        .unwrap();
    s.create_email_link("old", &verify(&u.email, t - 1))
        .await
        .unwrap();
    s.create_email_link("stale", &verify("before@example.com", t + 60))
        .await
        .unwrap();
    assert_eq!(
        s.email_link("v1").await.unwrap(),
        Some(verify(&u.email, t + 60))
    );
    assert_eq!(s.email_link("nope").await.unwrap(), None);

    // Unknown, expired, or sent to an address the person no longer has:
    // nothing changes, and the link stays unused.
    assert_eq!(s.use_email_link("nope", t).await.unwrap(), None);
    assert_eq!(s.use_email_link("old", t).await.unwrap(), None);
    assert_eq!(s.use_email_link("stale", t).await.unwrap(), None);
    assert_eq!(s.email_link("stale").await.unwrap().unwrap().used_at, None);
    assert!(
        !s.get_user("t1", &u.sub)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    // Not expired one second before its end, expired at it.
    assert_eq!(s.use_email_link("v1", t + 60).await.unwrap(), None);

    // Racing uses of one link: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.use_email_link("v1", t).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if let Some(l) = task.await.unwrap() {
            assert_eq!(l, verify(&u.email, t + 60));
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert!(
        s.get_user("t1", &u.sub)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert_eq!(s.email_link("v1").await.unwrap().unwrap().used_at, Some(t));
    assert_eq!(s.use_email_link("v1", t).await.unwrap(), None);

    // Expired links are swept.
    let swept = s.sweep_outbox(t + 61, 100).await.unwrap();
    assert_eq!(
        swept.iter().find(|(n, _)| *n == "email_links").unwrap().1,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_link_moves_the_address_ends_everything_and_yields_to_a_taken_address() {
    let db = Db::open().await;
    let (c, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    let other = user("t1", "u2");
    s.create_user(&other).await.unwrap();
    let change = |email: &str| link(&u.sub, email, EmailLinkPurpose::Change, t, t + 60);
    s.create_email_link("c1", &change("new@example.com"))
        .await
        .unwrap();
    s.create_email_link("c2", &change("later@example.com"))
        .await
        .unwrap();
    s.create_email_link("taken", &change(&other.email))
        .await
        .unwrap();
    s.create_session("sess", &session("t1", &u.sub, t + 3600))
        .await
        .unwrap();
    let g = grant("g1", &c, &u.sub, t, 60);
    make_grant(&*s, &g).await;

    // The address belongs to someone else: a conflict, nothing written.
    assert!(matches!(
        s.use_email_link("taken", t).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.email_link("taken").await.unwrap().unwrap().used_at, None);
    let before = s.get_user("t1", &u.sub).await.unwrap().unwrap();
    assert_eq!(before.email, u.email);
    assert!(s.get_session("sess").await.unwrap().is_some());

    // Racing uses of one link: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.use_email_link("c1", t).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap().is_some() as i32;
    }
    assert_eq!(wins, 1);
    let after = s.get_user("t1", &u.sub).await.unwrap().unwrap();
    assert_eq!(after.email, "new@example.com");
    assert!(after.email_verified);
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
    // The person's other address changes in flight were used up with it.
    assert_eq!(s.use_email_link("c2", t).await.unwrap(), None);
    assert_eq!(s.email_link("c2").await.unwrap().unwrap().used_at, Some(t));
    // A verify link to the old address does nothing now.
    s.create_email_link(
        "v-old",
        &link(&u.sub, &u.email, EmailLinkPurpose::Verify, t, t + 60),
    )
    .await
    .unwrap();
    assert_eq!(s.use_email_link("v-old", t).await.unwrap(), None);
}
