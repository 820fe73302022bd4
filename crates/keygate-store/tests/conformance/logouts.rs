//! The back-channel logout queue (src/logouts.rs, `LogoutStore`): every
//! write that ends a session queues, in the same write, one logout per
//! client that redeemed a code from it and has a back-channel logout URI;
//! claims with a lease never hand one logout to two claimers; a failed
//! logout comes back when due; finished ones are swept a day later.

use crate::*;
use keygate_core::model::{Client, GrantSession};
use keygate_store::LogoutOutcome;
use keygate_store::Store;
use std::collections::HashSet;
use std::sync::Arc;

const ISSUER: &str = "https://id.example.com/t1/as";

/// A client of tenant `t1` that registered a back-channel logout URI.
async fn told_client(s: &dyn Store, id: &str) -> Client {
    let mut c = client("t1", id, false);
    c.backchannel_logout_uri = Some(format!("https://{id}.example.com/backchannel"));
    s.create_client(&c).await.unwrap();
    c
}

/// A session of `sub` under `hash`; returns its sid.
async fn signed_in(s: &dyn Store, sub: &str, hash: &str) -> String {
    let sess = session("t1", sub, now() + 3600);
    s.create_session(hash, &sess).await.unwrap();
    assert_eq!(s.get_session(hash).await.unwrap().unwrap().sid, sess.sid);
    sess.sid
}

/// A grant of `c` made from session `sid` with `scope`, its code redeemed
/// when `redeem`.
async fn grant_from(
    s: &dyn Store,
    c: &Client,
    sub: &str,
    sid: &str,
    id: &str,
    scope: &str,
    redeem: bool,
) {
    let t = now();
    let mut g = grant(id, c, sub, t, 60);
    g.scope = scope.into();
    g.session = Some(GrantSession {
        sid: sid.into(),
        issuer: ISSUER.into(),
    });
    make_grant(s, &g).await;
    assert_eq!(s.get_grant(id).await.unwrap().unwrap().session, g.session);
    if redeem {
        let won = exchange_code(s, &code_of(id), t, approve_code(None)).await;
        assert_eq!(kind(&won), "Won");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_queues_a_logout_for_each_told_client_and_revokes_grants_without_offline_access(
) {
    let db = Db::open().await;
    let s = &*db.store;
    let (plain, u) = setting(s).await; // no back-channel URI
    let told = told_client(s, "told").await;
    let offline = told_client(s, "offline").await;
    let unredeemed = told_client(s, "unredeemed").await;
    let sid = signed_in(s, &u.sub, "h1").await;
    let other_sid = signed_in(s, &u.sub, "h2").await;
    grant_from(s, &told, &u.sub, &sid, "g-told", "openid email", true).await;
    grant_from(
        s,
        &offline,
        &u.sub,
        &sid,
        "g-offline",
        "openid offline_access",
        true,
    )
    .await;
    grant_from(
        s,
        &unredeemed,
        &u.sub,
        &sid,
        "g-unredeemed",
        "openid",
        false,
    )
    .await;
    grant_from(s, &plain, &u.sub, &sid, "g-plain", "openid", true).await;
    grant_from(s, &told, &u.sub, &other_sid, "g-other", "openid", true).await;
    let t = now();

    s.end_session("h1", t).await.unwrap();
    assert!(s.get_session("h1").await.unwrap().is_none());
    assert_eq!(
        s.logouts_of_session(&sid).await.unwrap(),
        vec![("offline".to_string(), None), ("told".to_string(), None)]
    );
    // Grants without offline_access end with the session; the others, and
    // those of other sessions, stay.
    let revoked =
        |id: &'static str| async move { s.get_grant(id).await.unwrap().unwrap().revoked_at };
    assert_eq!(revoked("g-told").await, Some(t));
    assert_eq!(revoked("g-plain").await, Some(t));
    assert_eq!(revoked("g-offline").await, None);
    assert_eq!(revoked("g-other").await, None);
    assert!(s.logouts_of_session(&other_sid).await.unwrap().is_empty());
    // Ending it again (it is gone) queues nothing more.
    s.end_session("h1", t + 1).await.unwrap();
    assert_eq!(s.logouts_of_session(&sid).await.unwrap().len(), 2);
    // Deleting a session (the same person signing in again) tells nobody.
    s.delete_session("h2").await.unwrap();
    assert!(s.logouts_of_session(&other_sid).await.unwrap().is_empty());
    assert_eq!(revoked("g-other").await, None);

    // Claimed with a lease, as the outbox.
    let got = s.claim_logouts("claim-a", t, 60, 10).await.unwrap();
    assert_eq!(got.len(), 2);
    let l = got.iter().find(|l| l.client_id == "told").unwrap();
    assert_eq!(
        (
            l.sid.as_str(),
            l.tenant_id.as_str(),
            l.user_sub.as_str(),
            l.issuer.as_str(),
            l.created_at,
            l.attempts
        ),
        (sid.as_str(), "t1", u.sub.as_str(), ISSUER, t, 1)
    );
    assert!(s
        .claim_logouts("claim-b", t + 59, 60, 10)
        .await
        .unwrap()
        .is_empty());
    s.logout_finished("offline", &sid, LogoutOutcome::Delivered, t + 1)
        .await
        .unwrap();
    s.logout_failed("told", &sid, t + 10).await.unwrap();
    assert!(s
        .claim_logouts("claim-c", t + 9, 60, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_logouts("claim-d", t + 10, 60, 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].client_id.as_str(), again[0].attempts),
        (1, "told", 2)
    );
    // A lease that ran out (its node died) is claimed by another.
    let taken = s.claim_logouts("claim-e", t + 71, 60, 10).await.unwrap();
    assert_eq!((taken.len(), taken[0].attempts), (1, 3));
    s.logout_finished("told", &sid, LogoutOutcome::GivenUp, t + 72)
        .await
        .unwrap();
    assert!(s
        .claim_logouts("claim-f", t + 100_000, 60, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.logouts_of_session(&sid).await.unwrap(),
        vec![
            ("offline".to_string(), Some("delivered".to_string())),
            ("told".to_string(), Some("given_up".to_string()))
        ]
    );
    // Swept a day after they finished, not before.
    let swept = |v: Vec<(&'static str, u64)>| {
        v.iter()
            .find(|(n, _)| *n == "backchannel_logouts")
            .unwrap()
            .1
    };
    assert_eq!(swept(s.sweep(t + 1 + 86_399, 100).await.unwrap()), 0);
    assert_eq!(swept(s.sweep(t + 72 + 86_401, 100).await.unwrap()), 2);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM backchannel_logouts").await,
        0
    );
}

/// A new live session of `sub` with a redeemed grant of `c`: its sid.
async fn live(s: &dyn Store, c: &Client, sub: &str) -> String {
    let n = unique_sid();
    let sid = signed_in(s, sub, &format!("h-{n}")).await;
    grant_from(s, c, sub, &sid, &format!("g-{n}"), "openid", true).await;
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_that_ends_a_persons_sessions_queues_their_logouts() {
    let db = Db::open().await;
    let s = &*db.store;
    let (_, u) = setting(s).await;
    let told = told_client(s, "told").await;
    let t = now();
    let is_queued = |sid: String| async move {
        s.logouts_of_session(&sid).await.unwrap() == vec![("told".to_string(), None)]
    };

    // "Sign out everywhere": both sessions.
    let (a, b) = (live(s, &told, &u.sub).await, live(s, &told, &u.sub).await);
    s.end_sessions_of("t1", &u.sub, t).await.unwrap();
    assert!(is_queued(a).await && is_queued(b).await);

    // A change that ends sessions (disabling the person).
    let c = live(s, &told, &u.sub).await;
    let mut disabled = u.clone();
    disabled.disabled = true;
    s.update_user(&disabled, Some(t)).await.unwrap();
    assert!(is_queued(c).await);
    s.update_user(&u, None).await.unwrap();

    // An admin's reset of the person's factors.
    let d = live(s, &told, &u.sub).await;
    s.reset_factors("t1", &u.sub, t).await.unwrap();
    assert!(is_queued(d).await);

    // A password reset link used.
    let e = live(s, &told, &u.sub).await;
    s.create_reset_link(
        "reset-1",
        &keygate_store::ResetLink {
            tenant_id: "t1".into(),
            user_sub: u.sub.clone(),
            created_at: t,
            expires_at: t + 1800,
            used_at: None,
        },
    )
    .await
    .unwrap();
    assert!(s
        .use_reset_link("reset-1", "t1", &u.sub, "new-hash", t)
        .await
        .unwrap());
    assert!(is_queued(e).await);

    // Deleting the person.
    let f = live(s, &told, &u.sub).await;
    assert!(s.delete_user("t1", &u.sub, t).await.unwrap());
    assert!(is_queued(f).await);
    assert_eq!(db.count("SELECT COUNT(*) FROM sessions").await, 0);

    assert_eq!(
        db.count("SELECT COUNT(*) FROM backchannel_logouts").await,
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_share_out_the_logouts_without_overlap() {
    let db = Db::open().await;
    let s = &*db.store;
    let (_, u) = setting(s).await;
    let told = told_client(s, "told").await;
    for i in 0..40 {
        let sid = signed_in(s, &u.sub, &format!("h{i}")).await;
        grant_from(s, &told, &u.sub, &sid, &format!("g{i:02}"), "openid", true).await;
    }
    let t = now();
    s.end_sessions_of("t1", &u.sub, t).await.unwrap();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM backchannel_logouts").await,
        40
    );
    // A second store on the same database: another node.
    let other = db.reopen().await;
    let stores: Vec<Arc<dyn keygate_store::Store>> = vec![db.store.clone(), other];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            s.claim_logouts(&format!("claim-{i}"), t, 60, 7)
                .await
                .unwrap()
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for l in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(l.sid.clone()), "{} claimed twice", l.sid);
        }
    }
    assert_eq!(total, 40, "8 claims of 7 cover all 40");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_keeps_a_grant_while_its_session_lives_so_its_end_finds_the_client() {
    let db = Db::open().await;
    let s = &*db.store;
    let (_, u) = setting(s).await;
    let told = told_client(s, "told").await;
    let t = now();
    let sess = session("t1", &u.sub, t + 86_400);
    s.create_session("h1", &sess).await.unwrap();
    // Redeemed without a refresh token: only the session keeps it.
    grant_from(s, &told, &u.sub, &sess.sid, "g1", "openid", true).await;
    let later = t + 60 + 3600 + 100; // code and access token expired
    s.sweep(later, 100).await.unwrap();
    assert!(s.get_grant("g1").await.unwrap().is_some());
    s.end_session("h1", later).await.unwrap();
    assert_eq!(
        s.logouts_of_session(&sess.sid).await.unwrap(),
        vec![("told".to_string(), None)]
    );
    s.sweep(later + 1, 100).await.unwrap();
    assert!(s.get_grant("g1").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_an_unredeemed_grant_of_a_live_session() {
    let db = Db::open().await;
    let s = &*db.store;
    let (_, u) = setting(s).await;
    let told = told_client(s, "told").await;
    let t = now();
    let sess = session("t1", &u.sub, t + 86_400);
    s.create_session("h1", &sess).await.unwrap();
    grant_from(s, &told, &u.sub, &sess.sid, "g1", "openid", false).await;
    s.sweep(t + 60 + 3600 + 100, 100).await.unwrap();
    assert!(s.get_grant("g1").await.unwrap().is_none());
}
