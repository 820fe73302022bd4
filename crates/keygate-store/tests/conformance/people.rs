//! People and the hosted pages' sessions (lib.rs: "Users", `update_user`,
//! `delete_user`, "Sessions of the hosted pages").

use crate::directory::is_conflict;
use crate::*;
use keygate_core::model::*;
use keygate_store::StoreError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_created_once_per_email_and_read_back() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let mut u = user("t1", "u1");
    u.email_verified = true;
    s.create_user(&u).await.unwrap();
    assert_eq!(s.get_user("t1", "u1").await.unwrap(), Some(u.clone()));
    assert_eq!(s.get_user("t2", "u1").await.unwrap(), None);
    assert_eq!(
        s.user_by_email("t1", "u1@example.com").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(s.user_by_email("t2", "u1@example.com").await.unwrap(), None);

    // The e-mail is taken in t1, not in t2.
    let mut same_email = user("t1", "u2");
    same_email.email = u.email.clone();
    assert!(is_conflict(s.create_user(&same_email).await));
    assert_eq!(s.get_user("t1", "u2").await.unwrap(), None);
    same_email.tenant_id = "t2".into();
    s.create_user(&same_email).await.unwrap();
    assert_eq!(
        s.user_by_email("t2", "u1@example.com").await.unwrap(),
        Some(same_email)
    );

    // A disabled person without a name round-trips.
    let mut disabled = user("t1", "u3");
    disabled.disabled = true;
    disabled.name = None;
    s.create_user(&disabled).await.unwrap();
    assert_eq!(s.get_user("t1", "u3").await.unwrap(), Some(disabled));

    // Pages by sub, per tenant.
    for sub in ["u0", "u4"] {
        s.create_user(&user("t1", sub)).await.unwrap();
    }
    let subs = |v: Vec<User>| v.into_iter().map(|u| u.sub).collect::<Vec<_>>();
    assert_eq!(subs(s.list_users("t1", "", 2).await.unwrap()), ["u0", "u1"]);
    assert_eq!(
        subs(s.list_users("t1", "u1", 2).await.unwrap()),
        ["u3", "u4"]
    );
    assert_eq!(subs(s.list_users("t1", "u4", 2).await.unwrap()), [""; 0]);
    assert_eq!(subs(s.list_users("t2", "", 9).await.unwrap()), ["u2"]);
}

/// Person `u1` of tenant t1 with a session and a redeemed grant, and person
/// `u2` with the same; returns u1.
async fn two_people(s: &dyn keygate_store::Store, now: i64) -> (Client, User) {
    let (c, u1) = setting(s).await;
    let u2 = user("t1", "u2");
    s.create_user(&u2).await.unwrap();
    for sub in ["u1", "u2"] {
        s.create_session(&format!("s-{sub}"), &session("t1", sub, now + 3600))
            .await
            .unwrap();
        let g = grant(&format!("g-{sub}"), &c, sub, now, 60);
        make_grant(s, &g).await;
        let won = exchange_code(
            s,
            &code_of(&g.id),
            now,
            approve_code(successor(&format!("r-{sub}"), now + 3600)),
        )
        .await;
        assert_eq!(kind(&won), "Won");
    }
    (c, u1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_a_person_without_ending_sessions_keeps_them() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (_, u1) = two_people(s, now).await;
    let mut changed = u1.clone();
    changed.email = "new@example.com".into();
    changed.email_verified = true;
    changed.name = None;
    changed.password_hash = "new-hash".into();
    changed.created_at = 1; // not replaced
    changed.phone_number = Some("+4915112345678".into());
    changed.phone_number_verified = true;
    changed.address = Some(Address {
        street_address: Some("Hauptstr. 1\nHinterhaus".into()),
        postal_code: Some("10115".into()),
        ..Address::default()
    });
    s.update_user(&changed, None).await.unwrap();
    let expected = User {
        created_at: u1.created_at,
        ..changed.clone()
    };
    assert_eq!(
        s.get_user("t1", "u1").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        s.user_by_email("t1", "new@example.com").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(s.user_by_email("t1", "u1@example.com").await.unwrap(), None);
    assert!(s.get_session("s-u1").await.unwrap().is_some());
    assert_eq!(s.get_grant("g-u1").await.unwrap().unwrap().revoked_at, None);

    // The e-mail of u2: Conflict, nothing changed.
    let mut taken = expected.clone();
    taken.email = "u2@example.com".into();
    taken.name = Some("Not applied".into());
    assert!(is_conflict(s.update_user(&taken, None).await));
    assert_eq!(s.get_user("t1", "u1").await.unwrap(), Some(expected));
    assert_eq!(
        s.update_user(&user("t1", "nobody"), None).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.get_user("t1", "nobody").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_a_person_with_end_sessions_at_ends_sessions_and_revokes_grants_in_one_write() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    let (_, u1) = two_people(s, now).await;

    // A refused update (the e-mail is taken) ends nothing: the change and
    // its consequences are one write.
    let mut taken = u1.clone();
    taken.email = "u2@example.com".into();
    assert!(is_conflict(s.update_user(&taken, Some(now + 1)).await));
    assert!(s.get_session("s-u1").await.unwrap().is_some());
    assert_eq!(s.get_grant("g-u1").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(
        s.update_user(&user("t1", "nobody"), Some(now + 1)).await,
        Err(StoreError::NotFound)
    );

    // Disabling: stored, sessions ended, grants revoked at that time.
    let mut disabled = u1.clone();
    disabled.disabled = true;
    disabled.password_hash = "new-hash".into();
    s.update_user(&disabled, Some(now + 2)).await.unwrap();
    assert_eq!(
        s.get_user("t1", "u1").await.unwrap(),
        Some(disabled.clone())
    );
    assert_eq!(s.get_session("s-u1").await.unwrap(), None);
    assert_eq!(
        s.get_grant("g-u1").await.unwrap().unwrap().revoked_at,
        Some(now + 2)
    );
    let standing = s
        .token_standing("jti", Some("g-u1"), Some(("t1", "u1")))
        .await
        .unwrap();
    assert!(!standing.stands());
    assert_eq!(standing.person, Some(disabled.clone()));
    let lost = exchange_refresh(
        s,
        "r-u1",
        now + 3,
        approve_refresh(successor("x", now + 3600)),
    )
    .await;
    assert_eq!(kind(&lost), "Lost");

    // The other person keeps theirs.
    assert!(s.get_session("s-u2").await.unwrap().is_some());
    assert_eq!(s.get_grant("g-u2").await.unwrap().unwrap().revoked_at, None);

    // Enabled again: the flag round-trips back.
    disabled.disabled = false;
    s.update_user(&disabled, None).await.unwrap();
    assert!(!s.get_user("t1", "u1").await.unwrap().unwrap().disabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_person_ends_their_sessions_and_revokes_their_grants() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    two_people(s, now).await;
    assert!(s.delete_user("t1", "u1", now + 4).await.unwrap());
    assert!(!s.delete_user("t1", "u1", now + 5).await.unwrap());
    assert!(!s.delete_user("t2", "u2", now + 5).await.unwrap());
    assert_eq!(s.get_user("t1", "u1").await.unwrap(), None);
    assert_eq!(s.get_session("s-u1").await.unwrap(), None);
    assert_eq!(
        s.get_grant("g-u1").await.unwrap().unwrap().revoked_at,
        Some(now + 4)
    );
    let standing = s
        .token_standing("jti", Some("g-u1"), Some(("t1", "u1")))
        .await
        .unwrap();
    assert!(!standing.grant_live);
    assert_eq!(standing.person, None);
    // The refresh token is found without its person, and no longer exchanges.
    let (_, _, person) = s.refresh_token("r-u1").await.unwrap().unwrap();
    assert_eq!(person, None);
    let lost = exchange_refresh(s, "r-u1", now + 6, approve_refresh(None)).await;
    assert_eq!(kind(&lost), "Lost");

    assert!(s.get_user("t1", "u2").await.unwrap().is_some());
    assert!(s.get_session("s-u2").await.unwrap().is_some());
    assert_eq!(s.get_grant("g-u2").await.unwrap().unwrap().revoked_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_created_read_and_deleted_by_hash() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    setting(s).await;
    let kept = session("t1", "u1", now + 100);
    s.create_session("h1", &kept).await.unwrap();
    s.create_session("h2", &session("t1", "u1", now + 200))
        .await
        .unwrap();
    assert_eq!(s.get_session("h1").await.unwrap(), Some(kept.clone()));
    assert_eq!(s.get_session("nope").await.unwrap(), None);
    s.delete_session("h2").await.unwrap();
    s.delete_session("h2").await.unwrap();
    assert_eq!(s.get_session("h2").await.unwrap(), None);
    assert_eq!(s.get_session("h1").await.unwrap(), Some(kept));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_live_sessions_are_listed_newest_first_and_end_together() {
    let db = Db::open().await;
    let s = &*db.store;
    let now = now();
    // u1 and u2 each have a session (s-u1, s-u2) and a grant (g-u1, g-u2).
    two_people(s, now).await;
    let first = s.get_session("s-u1").await.unwrap().unwrap();
    let mut newer = session("t1", "u1", now + 200);
    newer.auth_time = first.auth_time + 10;
    s.create_session("newer", &newer).await.unwrap();
    s.create_session("gone", &session("t1", "u1", now - 1))
        .await
        .unwrap();
    assert_eq!(
        s.sessions_of("t1", "u1", now).await.unwrap(),
        vec![("newer".to_string(), newer), ("s-u1".to_string(), first)],
        "live sessions only, newest first, with where they were started from"
    );
    // Ending them all also revokes the person's grants, and leaves others'.
    s.end_sessions_of("t1", "u1", now + 5).await.unwrap();
    assert_eq!(s.sessions_of("t1", "u1", now).await.unwrap(), vec![]);
    assert!(s.get_session("s-u2").await.unwrap().is_some());
    assert_eq!(
        s.get_grant("g-u1").await.unwrap().unwrap().revoked_at,
        Some(now + 5)
    );
    assert_eq!(s.get_grant("g-u2").await.unwrap().unwrap().revoked_at, None);
}

/// The console's search: users whose address starts with a prefix, in
/// address order, paged by address; `%` and `_` are only themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_found_by_the_start_of_their_address() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    for (t, sub, email) in [
        ("t1", "a", "ann@example.com"),
        ("t1", "b", "anna@example.com"),
        ("t1", "c", "bob@example.com"),
        ("t1", "d", "an_x@example.com"),
        ("t2", "e", "ann@example.org"),
    ] {
        let mut u = user(t, sub);
        u.email = email.into();
        s.create_user(&u).await.unwrap();
    }
    // Sorted here: the engines' collations may order addresses differently.
    let emails = |v: Vec<User>| {
        let mut e = v.into_iter().map(|u| u.email).collect::<Vec<_>>();
        e.sort();
        e
    };
    assert_eq!(
        emails(s.users_by_email_prefix("t1", "ann", "", 10).await.unwrap()),
        ["ann@example.com", "anna@example.com"]
    );
    // Two pages of "an": in the store's order, each address once.
    let first = s.users_by_email_prefix("t1", "an", "", 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let last = first[1].email.clone();
    let rest = s.users_by_email_prefix("t1", "an", &last, 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    let mut all = first;
    all.extend(rest);
    assert_eq!(
        emails(all),
        ["an_x@example.com", "ann@example.com", "anna@example.com"]
    );
    assert_eq!(
        emails(s.users_by_email_prefix("t1", "an_", "", 10).await.unwrap()),
        ["an_x@example.com"]
    );
    assert!(s
        .users_by_email_prefix("t1", "a%", "", 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .users_by_email_prefix("t1", "zed", "", 10)
        .await
        .unwrap()
        .is_empty());
}
