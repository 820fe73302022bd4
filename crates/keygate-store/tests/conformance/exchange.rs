//! Grants, their codes and refresh tokens: the cap on outstanding codes,
//! single use of a code (RFC 6749 4.1.2) and of a rotated refresh token
//! (RFC 9700 4.14.2), decided by the database even when requests race
//! (lib.rs: "two racing requests (even on two nodes) get exactly one
//! winner"), and the standing of access tokens.

use crate::*;
use keygate_core::grant::Refusal;
use keygate_core::model::*;
use keygate_store::{Exchange, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_is_stored_with_its_code_and_read_back() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    let mut g = grant("g1", &c, &u.sub, now, 60);
    g.code_challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into());
    g.code_challenge_method = Some(keygate_core::pkce::CodeChallengeMethod::S256);
    g.redirect_uri_sent = true;
    assert!(s.create_grant(&g, "code-g1", 5).await.unwrap());
    assert_eq!(s.get_grant("g1").await.unwrap(), Some(g.clone()));
    assert_eq!(s.get_grant("nope").await.unwrap(), None);

    // revoke_grant stamps the time once.
    s.revoke_grant("g1", now + 1).await.unwrap();
    s.revoke_grant("g1", now + 2).await.unwrap();
    s.revoke_grant("nope", now + 2).await.unwrap();
    assert_eq!(
        s.get_grant("g1").await.unwrap().unwrap().revoked_at,
        Some(now + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_counts_only_live_unredeemed_codes_of_one_person_and_client() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    let other_client = client("t1", "c2", false);
    s.create_client(&other_client).await.unwrap();
    s.create_user(&user("t1", "u2")).await.unwrap();
    const CAP: i64 = 3;

    // An expired code does not count.
    let expired = grant("expired", &c, &u.sub, now - 120, 60);
    assert!(s.create_grant(&expired, "code-expired", CAP).await.unwrap());
    for i in 0..CAP {
        let g = grant(&format!("g{i}"), &c, &u.sub, now, 60);
        assert!(
            s.create_grant(&g, &code_of(&g.id), CAP).await.unwrap(),
            "g{i}"
        );
    }
    // The cap-th + 1 live unredeemed code is refused, and not stored.
    let over = grant("over", &c, &u.sub, now, 60);
    assert!(!s.create_grant(&over, "code-over", CAP).await.unwrap());
    assert_eq!(s.get_grant("over").await.unwrap(), None);
    let won = exchange_code(s, "code-over", now, approve_code(None)).await;
    assert_eq!(won, Exchange::NotFound);

    // Another client of the person, or another person: their own count.
    let g = grant("other-client", &other_client, &u.sub, now, 60);
    assert!(s.create_grant(&g, "code-oc", CAP).await.unwrap());
    let g = grant("other-person", &c, "u2", now, 60);
    assert!(s.create_grant(&g, "code-op", CAP).await.unwrap());

    // A redeemed code does not count.
    let won = exchange_code(s, &code_of("g0"), now, approve_code(None)).await;
    assert_eq!(kind(&won), "Won");
    assert!(s.create_grant(&over, "code-over", CAP).await.unwrap());
    let again = grant("again", &c, &u.sub, now, 60);
    assert!(!s.create_grant(&again, "code-again", CAP).await.unwrap());

    // The codes of a revoked grant do not count (a password change revokes
    // every grant of the person; they must be able to sign in again).
    s.revoke_grant("g1", now).await.unwrap();
    assert!(s.create_grant(&again, "code-again", CAP).await.unwrap());
    let more = grant("more", &c, &u.sub, now, 60);
    assert!(!s.create_grant(&more, "code-more", CAP).await.unwrap());

    // Codes that expire by the new grant's time no longer count.
    let later = grant("later", &c, &u.sub, now + 61, 60);
    assert!(s.create_grant(&later, "code-later", CAP).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_grants_do_not_pass_the_cap_together() {
    let db = Db::open().await;
    let now = now();
    let (c, u) = setting(&*db.store).await;
    // A second store on the same database: another node.
    let two = [db.store.clone(), db.reopen().await];
    const CAP: i64 = 5;
    for round in 0..4 {
        // The last rounds on two nodes at once.
        let nodes = if round < 2 { &two[..1] } else { &two[..] };
        // Each round a person of its own, so earlier rounds do not count.
        let sub = format!("{}-{round}", u.sub);
        db.store.create_user(&user("t1", &sub)).await.unwrap();
        let n = 40;
        let start = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = nodes[i % nodes.len()].clone();
            let start = start.clone();
            let g = grant(&format!("g-{round}-{i}"), &c, &sub, now, 60);
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                store.create_grant(&g, &code_of(&g.id), CAP).await.unwrap()
            }));
        }
        let mut stored = 0;
        for t in tasks {
            stored += t.await.unwrap() as i64;
        }
        let rows = db
            .count(&format!(
                "SELECT COUNT(*) FROM grants WHERE user_sub = '{sub}'"
            ))
            .await;
        assert_eq!((stored, rows), (CAP, CAP), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_exchanged_once_with_its_successor_stored() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    let g = grant("g1", &c, &u.sub, now, 60);
    make_grant(s, &g).await;

    // No such code: NotFound, and the check is not asked.
    let asked = Arc::new(AtomicBool::new(false));
    let flag = asked.clone();
    let missing = exchange_code(
        s,
        "code-nope",
        now,
        Box::new(move |_| {
            flag.store(true, Ordering::SeqCst);
            Err(Refusal {
                error: keygate_core::OAuthError::invalid_grant("no"),
                revoke_grant: None,
            })
        }),
    )
    .await;
    assert_eq!(missing, Exchange::NotFound);
    assert!(!asked.load(Ordering::SeqCst));

    // A refusal writes nothing: the code stays usable.
    let refusal = Refusal {
        error: keygate_core::OAuthError::invalid_grant("refused by the check"),
        revoke_grant: None,
    };
    let given = refusal.clone();
    let refused = exchange_code(s, &code_of("g1"), now, Box::new(move |_| Err(given))).await;
    assert_eq!(refused, Exchange::Refused(refusal));
    assert_eq!(s.get_grant("g1").await.unwrap(), Some(g.clone()));

    // Won: the check saw the grant and its person; the code is consumed at
    // `now` and the successor stored, created at `now`.
    let won = exchange_code(
        s,
        &code_of("g1"),
        now + 1,
        check_code(&c, now + 1, successor("r1", now + 3600)),
    )
    .await;
    let Exchange::Won((seen, person), approved) = won else {
        panic!("the first exchange wins: {won:?}");
    };
    assert_eq!(seen, g);
    assert_eq!(person, Some(u.clone()));
    assert_eq!(approved.successor.unwrap().hash, "r1");
    let consumed = s.get_grant("g1").await.unwrap().unwrap();
    assert_eq!(consumed.code_consumed_at, Some(now + 1));
    let (token, of, person) = s.refresh_token("r1").await.unwrap().unwrap();
    assert_eq!(
        token,
        RefreshToken {
            grant_id: "g1".into(),
            tenant_id: "t1".into(),
            client_id: "c1".into(),
            created_at: now + 1,
            expires_at: now + 3600,
            consumed_at: None,
        }
    );
    assert_eq!(of, consumed);
    assert_eq!(person, Some(u));

    // Used again: the token endpoint's check sees it consumed and asks for
    // the grant's revocation (RFC 6749 4.1.2); nothing is written.
    let again = exchange_code(
        s,
        &code_of("g1"),
        now + 2,
        check_code(&c, now + 2, successor("r2", now + 3600)),
    )
    .await;
    match again {
        Exchange::Refused(r) => assert_eq!(r.revoke_grant.as_deref(), Some("g1")),
        other => panic!("a used code is refused: {other:?}"),
    }
    // A check that approves anyway still loses: the store's consume is
    // conditional.
    let again = exchange_code(
        s,
        &code_of("g1"),
        now + 2,
        approve_code(successor("r3", now + 3600)),
    )
    .await;
    assert_eq!(kind(&again), "Lost");
    assert_eq!(s.refresh_token("r2").await.unwrap(), None);
    assert_eq!(s.refresh_token("r3").await.unwrap(), None);
    assert_eq!(
        s.get_grant("g1").await.unwrap().unwrap().code_consumed_at,
        Some(now + 1)
    );

    // A won exchange without a successor stores none.
    let g2 = grant("g2", &c, "u1", now, 60);
    make_grant(s, &g2).await;
    let won = exchange_code(s, &code_of("g2"), now, approve_code(None)).await;
    assert_eq!(kind(&won), "Won");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM refresh_tokens WHERE grant_id = 'g2'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_or_a_revoked_grant_does_not_exchange() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;

    // Expired: the check refuses; a check that approves still loses, and
    // the code stays unconsumed.
    let g = grant("old", &c, &u.sub, now - 100, 60);
    make_grant(s, &g).await;
    let refused = exchange_code(s, &code_of("old"), now, check_code(&c, now, None)).await;
    match refused {
        Exchange::Refused(r) => assert_eq!(r.revoke_grant, None),
        other => panic!("an expired code is refused: {other:?}"),
    }
    let lost = exchange_code(
        s,
        &code_of("old"),
        now,
        approve_code(successor("r-old", now + 3600)),
    )
    .await;
    assert_eq!(kind(&lost), "Lost");
    // The very second it expires, too.
    let lost = exchange_code(s, &code_of("old"), g.code_expires_at, approve_code(None)).await;
    assert_eq!(kind(&lost), "Lost");
    assert_eq!(s.get_grant("old").await.unwrap(), Some(g));
    assert_eq!(s.refresh_token("r-old").await.unwrap(), None);

    // Revoked.
    let g = grant("revoked", &c, &u.sub, now, 60);
    make_grant(s, &g).await;
    s.revoke_grant("revoked", now).await.unwrap();
    let refused = exchange_code(s, &code_of("revoked"), now, check_code(&c, now, None)).await;
    assert_eq!(kind(&refused), "Refused");
    let lost = exchange_code(
        s,
        &code_of("revoked"),
        now,
        approve_code(successor("r-rev", now + 3600)),
    )
    .await;
    assert_eq!(kind(&lost), "Lost");
    let stored = s.get_grant("revoked").await.unwrap().unwrap();
    assert_eq!(stored.code_consumed_at, None);
    assert_eq!(s.refresh_token("r-rev").await.unwrap(), None);
}

/// Runs `n` exchanges of one code at once, spread over `nodes`; returns
/// their outcomes and successors.
async fn race_code(
    nodes: &[Arc<dyn Store>],
    code: &str,
    n: usize,
    now: i64,
    check: impl Fn(String) -> keygate_store::Check<keygate_store::CodeGrant>,
) -> Vec<(String, Exchange<keygate_store::CodeGrant>)> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = nodes[i % nodes.len()].clone();
        let (start, code) = (start.clone(), code.to_string());
        let hash = format!("{code}-successor-{i}");
        let check = check(hash.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            (hash, exchange_code(&*store, &code, now, check).await)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_exchanges_of_one_code_have_exactly_one_winner() {
    let db = Db::open().await;
    let now = now();
    let (c, u) = setting(&*db.store).await;
    // A second store on the same database: another node.
    let two = [db.store.clone(), db.reopen().await];
    for round in 0..6 {
        let id = format!("g{round}");
        make_grant(&*db.store, &grant(&id, &c, &u.sub, now, 60)).await;
        // The last rounds on two nodes at once.
        let nodes = if round < 4 { &two[..1] } else { &two[..] };
        // Half the rounds with a check that approves anything (only the
        // consume decides), half with the token endpoint's (which may also
        // see the code consumed and refuse).
        let outcomes = if round % 2 == 0 {
            race_code(nodes, &code_of(&id), 32, now, |h| {
                approve_code(successor(&h, now + 3600))
            })
            .await
        } else {
            race_code(nodes, &code_of(&id), 32, now, |h| {
                check_code(&c, now, successor(&h, now + 3600))
            })
            .await
        };
        let winners: Vec<&String> = outcomes
            .iter()
            .filter(|(_, o)| kind(o) == "Won")
            .map(|(h, _)| h)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        for (_, o) in &outcomes {
            match o {
                Exchange::Won(..) | Exchange::Lost(_) => {}
                Exchange::Refused(r) if round % 2 == 1 => {
                    assert_eq!(r.revoke_grant.as_deref(), Some(id.as_str()))
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        // Only the winner's successor exists.
        assert!(db.store.refresh_token(winners[0]).await.unwrap().is_some());
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM refresh_tokens WHERE grant_id = '{id}'"
            ))
            .await,
            1,
            "round {round}"
        );
    }
}

/// A grant `g1` of client `c` redeemed at `now` with refresh token `r1`.
async fn redeemed(s: &dyn Store, c: &Client, now: i64) -> Grant {
    let g = grant("g1", c, "u1", now, 60);
    make_grant(s, &g).await;
    let won = exchange_code(
        s,
        &code_of("g1"),
        now,
        approve_code(successor("r1", now + 3600)),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    s.get_grant("g1").await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_rotates_once_and_its_reuse_is_seen() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    let g = redeemed(s, &c, now).await;

    assert_eq!(
        exchange_refresh(s, "nope", now, approve_refresh(None)).await,
        Exchange::NotFound
    );

    // Rotation: r1 consumed at `now + 10`, r2 stored.
    let won = exchange_refresh(
        s,
        "r1",
        now + 10,
        check_refresh(&c, now + 10, successor("r2", now + 7200)),
    )
    .await;
    let Exchange::Won((presented, of, person), approved) = won else {
        panic!("the first refresh wins: {won:?}");
    };
    assert_eq!(presented.consumed_at, None);
    assert_eq!(of, g);
    assert_eq!(person, Some(u));
    assert_eq!(approved.scope.to_string(), g.scope);
    let (r1, _, _) = s.refresh_token("r1").await.unwrap().unwrap();
    assert_eq!(r1.consumed_at, Some(now + 10));
    let (r2, _, _) = s.refresh_token("r2").await.unwrap().unwrap();
    assert_eq!(
        r2,
        RefreshToken {
            grant_id: "g1".into(),
            tenant_id: "t1".into(),
            client_id: "c1".into(),
            created_at: now + 10,
            expires_at: now + 7200,
            consumed_at: None,
        }
    );

    // Reuse of the rotated token: the check asks for the grant's
    // revocation (RFC 9700 4.14.2), the store writes nothing; a check that
    // approves anyway loses.
    let reused = exchange_refresh(
        s,
        "r1",
        now + 20,
        check_refresh(&c, now + 20, successor("r3", now + 7200)),
    )
    .await;
    match reused {
        Exchange::Refused(r) => assert_eq!(r.revoke_grant.as_deref(), Some("g1")),
        other => panic!("a reused refresh token is refused: {other:?}"),
    }
    let lost = exchange_refresh(
        s,
        "r1",
        now + 20,
        approve_refresh(successor("r3", now + 7200)),
    )
    .await;
    assert_eq!(kind(&lost), "Lost");
    assert_eq!(s.refresh_token("r3").await.unwrap(), None);
    assert_eq!(
        s.refresh_token("r2").await.unwrap().unwrap().0.consumed_at,
        None
    );

    // Once the caller revokes the grant, the live successor is dead too.
    s.revoke_grant("g1", now + 21).await.unwrap();
    let refused = exchange_refresh(
        s,
        "r2",
        now + 22,
        check_refresh(&c, now + 22, successor("r4", now + 7200)),
    )
    .await;
    match refused {
        Exchange::Refused(r) => assert_eq!(r.revoke_grant, None),
        other => panic!("a revoked grant's refresh token is refused: {other:?}"),
    }
    let lost = exchange_refresh(
        s,
        "r2",
        now + 22,
        approve_refresh(successor("r4", now + 7200)),
    )
    .await;
    assert_eq!(kind(&lost), "Lost");
    assert_eq!(
        s.refresh_token("r2").await.unwrap().unwrap().0.consumed_at,
        None
    );
    assert_eq!(s.refresh_token("r4").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_does_not_exchange() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, _) = setting(s).await;
    redeemed(s, &c, now).await;
    let at = now + 3600; // r1's expiry
    let refused =
        exchange_refresh(s, "r1", at, check_refresh(&c, at, successor("r2", at + 60))).await;
    assert_eq!(kind(&refused), "Refused");
    let lost = exchange_refresh(s, "r1", at, approve_refresh(successor("r2", at + 60))).await;
    assert_eq!(kind(&lost), "Lost");
    assert_eq!(
        s.refresh_token("r1").await.unwrap().unwrap().0.consumed_at,
        None
    );
    assert_eq!(s.refresh_token("r2").await.unwrap(), None);
    // A second before, it still does.
    let won = exchange_refresh(
        s,
        "r1",
        at - 1,
        check_refresh(&c, at - 1, successor("r2", at + 60)),
    )
    .await;
    assert_eq!(kind(&won), "Won");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_exchanges_of_one_refresh_token_have_exactly_one_winner() {
    let db = Db::open().await;
    let now = now();
    let (c, _) = setting(&*db.store).await;
    redeemed(&*db.store, &c, now).await;
    // A second store on the same database: another node.
    let two = [db.store.clone(), db.reopen().await];
    // Each round races on the token the previous round's winner stored;
    // the last rounds on two nodes at once.
    let mut current = "r1".to_string();
    for round in 0..6 {
        let nodes = if round < 4 { &two[..1] } else { &two[..] };
        let n = 32;
        let start = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = nodes[i % nodes.len()].clone();
            let (start, token) = (start.clone(), current.clone());
            let hash = format!("r-{round}-{i}");
            let check = if i % 2 == 0 {
                approve_refresh(successor(&hash, now + 3600))
            } else {
                check_refresh(&c, now, successor(&hash, now + 3600))
            };
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                (hash, exchange_refresh(&*store, &token, now, check).await)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (hash, outcome) = t.await.unwrap();
            match outcome {
                Exchange::Won(..) => winners.push(hash),
                Exchange::Lost(_) => {}
                Exchange::Refused(r) => assert_eq!(r.revoke_grant.as_deref(), Some("g1")),
                Exchange::NotFound => panic!("round {round}: {current} not found"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM refresh_tokens WHERE hash LIKE 'r-{round}-%'"
            ))
            .await,
            1,
            "round {round}: only the winner's successor is stored"
        );
        let (consumed, _, _) = db.store.refresh_token(&current).await.unwrap().unwrap();
        assert_eq!(consumed.consumed_at, Some(now));
        current = winners.remove(0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standing_of_an_access_token_is_read_in_one_answer() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    let g = redeemed(s, &c, now).await;

    let fresh = s.token_standing("j1", None, None).await.unwrap();
    assert!(!fresh.jti_revoked && fresh.grant_live && fresh.stands());
    assert_eq!(fresh.person, None);
    let with = s
        .token_standing("j1", Some(&g.id), Some(("t1", "u1")))
        .await
        .unwrap();
    assert!(with.stands());
    assert_eq!(with.person, Some(u.clone()));
    let nobody = s
        .token_standing("j1", Some(&g.id), Some(("t1", "nobody")))
        .await
        .unwrap();
    assert!(nobody.stands());
    assert_eq!(nobody.person, None);
    let elsewhere = s
        .token_standing("j1", None, Some(("t2", "u1")))
        .await
        .unwrap();
    assert_eq!(elsewhere.person, None);
    // A grant that does not exist (swept, or never made) stands for nothing.
    let unknown = s.token_standing("j1", Some("nope"), None).await.unwrap();
    assert!(!unknown.grant_live && !unknown.stands());

    // revoke_jti: idempotent, and only that jti.
    s.revoke_jti("j1", now + 60).await.unwrap();
    s.revoke_jti("j1", now + 60).await.unwrap();
    let revoked = s
        .token_standing("j1", Some(&g.id), Some(("t1", "u1")))
        .await
        .unwrap();
    assert!(revoked.jti_revoked && revoked.grant_live && !revoked.stands());
    assert_eq!(revoked.person, Some(u));
    assert!(s
        .token_standing("j2", Some(&g.id), None)
        .await
        .unwrap()
        .stands());

    s.revoke_grant(&g.id, now).await.unwrap();
    let gone = s.token_standing("j2", Some(&g.id), None).await.unwrap();
    assert!(!gone.jti_revoked && !gone.grant_live && !gone.stands());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_binding_is_stored_with_the_consume_and_never_replaced() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (c, u) = setting(s).await;
    // Bound at /authorize (RFC 9449 10): stored with the grant.
    let mut at_authorize = grant("ga", &c, &u.sub, now, 60);
    at_authorize.dpop_jkt = Some("jkt-authorize".into());
    make_grant(s, &at_authorize).await;
    assert_eq!(s.get_grant("ga").await.unwrap(), Some(at_authorize));

    // Bound with the code's consume, in the same write.
    let g = grant("gb", &c, &u.sub, now, 60);
    make_grant(s, &g).await;
    let won = exchange_code(
        s,
        &code_of("gb"),
        now,
        approve_code_binding(successor("rb1", now + 3600), "k1"),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    let stored = s.get_grant("gb").await.unwrap().unwrap();
    assert_eq!(stored.dpop_jkt.as_deref(), Some("k1"));
    // A refresh read back carries the grant's binding.
    let (_, read, _) = s.refresh_token("rb1").await.unwrap().unwrap();
    assert_eq!(read.dpop_jkt.as_deref(), Some("k1"));
    // A later binding never replaces the first.
    let won = exchange_refresh(
        s,
        "rb1",
        now,
        approve_refresh_binding(successor("rb2", now + 3600), "k2"),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    assert_eq!(
        s.get_grant("gb")
            .await
            .unwrap()
            .unwrap()
            .dpop_jkt
            .as_deref(),
        Some("k1")
    );

    // An unbound grant is bound by a refresh's consume.
    let g = grant("gc", &c, &u.sub, now, 60);
    make_grant(s, &g).await;
    let won = exchange_code(
        s,
        &code_of("gc"),
        now,
        approve_code(successor("rc1", now + 3600)),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    assert_eq!(s.get_grant("gc").await.unwrap().unwrap().dpop_jkt, None);
    let won = exchange_refresh(
        s,
        "rc1",
        now,
        approve_refresh_binding(successor("rc2", now + 3600), "k3"),
    )
    .await;
    assert_eq!(kind(&won), "Won");
    assert_eq!(
        s.get_grant("gc")
            .await
            .unwrap()
            .unwrap()
            .dpop_jkt
            .as_deref(),
        Some("k3")
    );
}
