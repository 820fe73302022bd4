//! Brute-force limits (lib.rs: `reserve_attempt`, `attempt_failed`,
//! `release_attempt`, `record_failure`, `clear_failures`, `LimitPolicy`):
//! attempts are counted before the secret is checked, so that parallel
//! attempts cannot pass the limit together.

use crate::*;
use keygate_store::{Attempt, LimitPolicy};
use std::sync::Arc;

const POLICY: LimitPolicy = LimitPolicy {
    max_failures: 3,
    window: 60,
    base_block: 30,
    max_block: 120,
};

fn granted(count: i64) -> Attempt {
    Attempt::Granted { count }
}

fn refused(retry_after: i64) -> Attempt {
    Attempt::Refused { retry_after }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_counted_and_the_limit_th_blocks_provisionally() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    for n in 1..=3 {
        assert_eq!(
            s.reserve_attempt("k", t, &POLICY).await.unwrap(),
            granted(n)
        );
    }
    // The third blocked `k` for `base_block`: refused, with what is left.
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        refused(30)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 10, &POLICY).await.unwrap(),
        refused(20)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 29, &POLICY).await.unwrap(),
        refused(1)
    );
    // Refusals count nothing: once the block ends the count goes on from
    // 3, in the same window, and blocks again at once.
    assert_eq!(
        s.reserve_attempt("k", t + 30, &POLICY).await.unwrap(),
        granted(4)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 30, &POLICY).await.unwrap(),
        refused(30)
    );

    // Other keys are counted apart.
    assert_eq!(
        s.reserve_attempt("other", t, &POLICY).await.unwrap(),
        granted(1)
    );

    // A limit of one: the first attempt blocks.
    let one = LimitPolicy {
        max_failures: 1,
        ..POLICY
    };
    assert_eq!(s.reserve_attempt("one", t, &one).await.unwrap(), granted(1));
    assert_eq!(
        s.reserve_attempt("one", t, &one).await.unwrap(),
        refused(30)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_window_starts_after_window_seconds() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        granted(1)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 60, &POLICY).await.unwrap(),
        granted(2)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 61, &POLICY).await.unwrap(),
        granted(1)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 62, &POLICY).await.unwrap(),
        granted(2)
    );

    // A block that ended with its window: counting starts over.
    for n in 1..=3 {
        assert_eq!(
            s.reserve_attempt("b", t, &POLICY).await.unwrap(),
            granted(n)
        );
    }
    assert_eq!(
        s.reserve_attempt("b", t + 61, &POLICY).await.unwrap(),
        granted(1)
    );
    assert_eq!(
        s.reserve_attempt("b", t + 61, &POLICY).await.unwrap(),
        granted(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_blocks_longer_and_never_shorter() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    for n in 1..=2 {
        assert_eq!(
            s.reserve_attempt("k", t, &POLICY).await.unwrap(),
            granted(n)
        );
        // Below the limit a failure blocks nothing.
        s.attempt_failed("k", n, t, &POLICY).await.unwrap();
        assert_eq!(
            s.reserve_attempt("k", t, &POLICY).await.unwrap(),
            granted(n + 1)
        );
        s.release_attempt("k", &POLICY).await.unwrap();
    }
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        granted(3)
    );
    s.attempt_failed("k", 3, t, &POLICY).await.unwrap();
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        refused(30)
    );
    // Five failures: 30 doubled twice, 120 (also the maximum).
    s.attempt_failed("k", 5, t, &POLICY).await.unwrap();
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        refused(120)
    );
    // A later, smaller verdict does not shorten it.
    s.attempt_failed("k", 4, t + 1, &POLICY).await.unwrap();
    s.attempt_failed("k", 3, t + 1, &POLICY).await.unwrap();
    assert_eq!(
        s.reserve_attempt("k", t + 1, &POLICY).await.unwrap(),
        refused(119)
    );
    // Never beyond `max_block`.
    s.attempt_failed("k", 50, t + 2, &POLICY).await.unwrap();
    assert_eq!(
        s.reserve_attempt("k", t + 2, &POLICY).await.unwrap(),
        refused(120)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_attempt_is_taken_back_and_lifts_its_provisional_block() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    for n in 1..=3 {
        assert_eq!(
            s.reserve_attempt("k", t, &POLICY).await.unwrap(),
            granted(n)
        );
    }
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        refused(30)
    );
    s.release_attempt("k", &POLICY).await.unwrap();
    // Count back to 2, block lifted: the next attempt is the third again.
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        granted(3)
    );
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        refused(30)
    );

    // Past the limit a release keeps the block: the failures before it
    // still reach the limit.
    assert_eq!(
        s.reserve_attempt("k", t + 30, &POLICY).await.unwrap(),
        granted(4)
    );
    s.release_attempt("k", &POLICY).await.unwrap();
    assert_eq!(
        s.reserve_attempt("k", t + 30, &POLICY).await.unwrap(),
        refused(30)
    );

    // Releasing a key never reserved does nothing.
    s.release_attempt("unknown", &POLICY).await.unwrap();
    assert_eq!(
        s.reserve_attempt("unknown", t, &POLICY).await.unwrap(),
        granted(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_failures_block_as_the_policy_says_until_cleared() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    assert_eq!(s.record_failure("k", t, &POLICY).await.unwrap(), None);
    assert_eq!(s.record_failure("k", t, &POLICY).await.unwrap(), None);
    assert_eq!(s.record_failure("k", t, &POLICY).await.unwrap(), Some(30));
    assert_eq!(
        s.reserve_attempt("k", t, &POLICY).await.unwrap(),
        refused(30)
    );
    assert_eq!(
        s.record_failure("k", t + 1, &POLICY).await.unwrap(),
        Some(60)
    );
    assert_eq!(
        s.reserve_attempt("k", t + 1, &POLICY).await.unwrap(),
        refused(60)
    );
    assert_eq!(
        s.record_failure("k", t + 1, &POLICY).await.unwrap(),
        Some(120)
    );
    assert_eq!(
        s.record_failure("k", t + 1, &POLICY).await.unwrap(),
        Some(120)
    );

    s.clear_failures("k").await.unwrap();
    s.clear_failures("k").await.unwrap();
    assert_eq!(
        s.reserve_attempt("k", t + 1, &POLICY).await.unwrap(),
        granted(1)
    );

    // A failure after the window counts from one again.
    assert_eq!(s.record_failure("w", t, &POLICY).await.unwrap(), None);
    assert_eq!(s.record_failure("w", t, &POLICY).await.unwrap(), None);
    assert_eq!(s.record_failure("w", t + 61, &POLICY).await.unwrap(), None);
    assert_eq!(s.record_failure("w", t + 61, &POLICY).await.unwrap(), None);
    assert_eq!(
        s.record_failure("w", t + 61, &POLICY).await.unwrap(),
        Some(30)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_reservations_grant_exactly_the_limit() {
    let db = Db::open().await;
    let t = now();
    let policy = LimitPolicy {
        max_failures: 5,
        window: 60,
        base_block: 30,
        max_block: 120,
    };
    // A second store on the same database: another node.
    let two = [db.store.clone(), db.reopen().await];
    for round in 0..4 {
        // The last rounds on two nodes at once.
        let nodes = if round < 2 { &two[..1] } else { &two[..] };
        let key = format!("k{round}");
        let n = 40;
        let start = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = nodes[i % nodes.len()].clone();
            let (start, key) = (start.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                store.reserve_attempt(&key, t, &policy).await.unwrap()
            }));
        }
        let mut counts = Vec::new();
        let mut refusals = 0;
        for task in tasks {
            match task.await.unwrap() {
                Attempt::Granted { count } => counts.push(count),
                Attempt::Refused { retry_after } => {
                    assert_eq!(retry_after, 30);
                    refusals += 1;
                }
            }
        }
        counts.sort();
        assert_eq!(counts, [1, 2, 3, 4, 5], "round {round}");
        assert_eq!(refusals, 35, "round {round}");
    }
}
