//! Upstream identity providers (src/federation.rs, `FederationStore`): a
//! tenant's upstreams with names unique in it; an upstream identity
//! (`iss`, `sub`) linked to one user for good, a first sign-in writing the
//! user and its identity both or neither; round trips taken once, by one of
//! racing callers, never after they expired, and swept.

use crate::*;
use keygate_core::federation::{
    ClaimMap, FederatedIdentity, FederationState, IdpKind, StatePurpose, UpstreamIdp,
};
use keygate_store::StoreError;

fn idp(tenant_id: &str, id: &str, name: &str) -> UpstreamIdp {
    UpstreamIdp {
        tenant_id: tenant_id.into(),
        id: id.into(),
        name: name.into(),
        kind: IdpKind::Oidc,
        issuer: format!("https://{id}.example.com"),
        client_id: format!("client-of-{id}"),
        client_secret_sealed: Some(format!("sealed-{id}")),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        authorize_url: None,
        token_url: None,
        userinfo_url: None,
        claims: ClaimMap::default(),
        created_at: now(),
    }
}

fn github(tenant_id: &str, id: &str) -> UpstreamIdp {
    let mut claims = ClaimMap::default();
    claims.set("sub", "id").unwrap();
    claims.set("name", "login").unwrap();
    claims.set("email_verified", "").unwrap();
    UpstreamIdp {
        kind: IdpKind::Oauth2,
        issuer: "https://github.com".into(),
        client_secret_sealed: None,
        scopes: vec!["read:user".into(), "user:email".into()],
        authorize_url: Some("https://github.com/login/oauth/authorize".into()),
        token_url: Some("https://github.com/login/oauth/access_token".into()),
        userinfo_url: Some("https://api.github.com/user".into()),
        claims,
        ..idp(tenant_id, id, "GitHub")
    }
}

fn identity(tenant_id: &str, subject: &str, user_sub: &str, created_at: i64) -> FederatedIdentity {
    FederatedIdentity {
        tenant_id: tenant_id.into(),
        issuer: "https://up.example.com".into(),
        subject: subject.into(),
        user_sub: user_sub.into(),
        idp_id: "up".into(),
        idp_name: "Up".into(),
        email: Some(format!("{subject}@up.example.com")),
        created_at,
        last_used_at: created_at,
    }
}

fn state(tenant_id: &str, expires_at: i64) -> FederationState {
    FederationState {
        tenant_id: tenant_id.into(),
        purpose: StatePurpose::Trip,
        payload: r#"{"idp_id":"up","request":"client_id=c1"}"#.into(),
        expires_at,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: keygate_store::Result<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_are_created_read_listed_updated_and_deleted() {
    let db = Db::open().await;
    let s = &*db.store;
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let google = idp("t1", "g1", "Google");
    let gh = github("t1", "h1");
    s.create_idp(&google).await.unwrap();
    s.create_idp(&gh).await.unwrap();
    // Everything round-trips, the oauth2 endpoints and claim paths too.
    assert_eq!(s.get_idp("t1", "g1").await.unwrap(), Some(google.clone()));
    assert_eq!(s.get_idp("t1", "h1").await.unwrap(), Some(gh.clone()));
    // Another tenant sees none of them.
    assert_eq!(s.get_idp("t2", "g1").await.unwrap(), None);
    assert_eq!(s.list_idps("t2").await.unwrap(), []);
    // Listed by name.
    assert_eq!(
        s.list_idps("t1").await.unwrap(),
        [gh.clone(), google.clone()]
    );
    // A name is unique in its tenant, not across tenants.
    assert!(is_conflict(s.create_idp(&idp("t1", "g2", "Google")).await));
    s.create_idp(&idp("t2", "g2", "Google")).await.unwrap();
    assert_eq!(s.list_idps("t1").await.unwrap().len(), 2);

    // Update replaces the settings and keeps the creation time.
    let mut changed = google.clone();
    changed.name = "Google Workspace".into();
    changed.client_secret_sealed = None;
    changed.scopes = vec!["openid".into()];
    changed.claims.set("name", "given_name").unwrap();
    changed.created_at = 1;
    assert!(s.update_idp(&changed).await.unwrap());
    let stored = s.get_idp("t1", "g1").await.unwrap().unwrap();
    assert_eq!(stored.created_at, google.created_at);
    assert_eq!(
        stored,
        UpstreamIdp {
            created_at: google.created_at,
            ..changed.clone()
        }
    );
    // Renaming to another upstream's name is a conflict, and changes nothing.
    let mut clash = gh.clone();
    clash.name = "Google Workspace".into();
    assert!(is_conflict(s.update_idp(&clash).await));
    assert_eq!(s.get_idp("t1", "h1").await.unwrap(), Some(gh.clone()));
    // An upstream that does not exist (or is another tenant's) is not updated.
    assert!(!s.update_idp(&idp("t1", "nope", "Nope")).await.unwrap());
    let mut elsewhere = gh.clone();
    elsewhere.tenant_id = "t2".into();
    assert!(!s.update_idp(&elsewhere).await.unwrap());

    // Delete: once, only in its tenant.
    assert!(!s.delete_idp("t2", "h1").await.unwrap());
    assert!(s.delete_idp("t1", "h1").await.unwrap());
    assert!(!s.delete_idp("t1", "h1").await.unwrap());
    assert_eq!(s.get_idp("t1", "h1").await.unwrap(), None);
    assert_eq!(s.list_idps("t1").await.unwrap().len(), 1);
    // Its name is free again.
    s.create_idp(&github("t1", "h2")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_is_linked_to_one_user_for_good() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    s.create_user(&user("t1", "u1")).await.unwrap();
    s.create_user(&user("t1", "u2")).await.unwrap();
    // Subjects are unique across tenants.
    s.create_user(&user("t2", "w1")).await.unwrap();

    let first = identity("t1", "alice", "u1", t - 100);
    assert!(s.link_identity(&first).await.unwrap());
    assert_eq!(
        s.federated_identity("t1", "https://up.example.com", "alice")
            .await
            .unwrap(),
        Some(first.clone())
    );
    // The same (iss, sub) again: refused, to the same user or another.
    assert!(!s.link_identity(&first).await.unwrap());
    assert!(!s
        .link_identity(&identity("t1", "alice", "u2", t))
        .await
        .unwrap());
    assert_eq!(
        s.federated_identity("t1", "https://up.example.com", "alice")
            .await
            .unwrap()
            .unwrap()
            .user_sub,
        "u1"
    );
    // Not for a user that does not exist.
    assert!(!s
        .link_identity(&identity("t1", "bob", "ghost", t))
        .await
        .unwrap());
    assert_eq!(
        s.federated_identity("t1", "https://up.example.com", "bob")
            .await
            .unwrap(),
        None
    );
    // The same subject at another issuer is another identity; the same
    // pair in another tenant is that tenant's.
    let mut other_issuer = identity("t1", "alice", "u1", t - 50);
    other_issuer.issuer = "https://github.com".into();
    assert!(s.link_identity(&other_issuer).await.unwrap());
    assert!(s
        .link_identity(&identity("t2", "alice", "w1", t))
        .await
        .unwrap());
    assert_eq!(
        s.federated_identity("t2", "https://up.example.com", "alice")
            .await
            .unwrap()
            .unwrap()
            .tenant_id,
        "t2"
    );

    // A user's identities, oldest first.
    let third = identity("t1", "carol", "u1", t - 10);
    assert!(s.link_identity(&third).await.unwrap());
    let mine = s.identities_of("t1", "u1").await.unwrap();
    assert_eq!(mine, [first.clone(), other_issuer.clone(), third.clone()]);
    assert_eq!(s.identities_of("t1", "u2").await.unwrap(), []);

    // A sign-in is recorded.
    s.touch_identity("t1", "https://up.example.com", "alice", t + 5)
        .await
        .unwrap();
    let touched = s
        .federated_identity("t1", "https://up.example.com", "alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (touched.last_used_at, touched.created_at),
        (t + 5, first.created_at)
    );

    // Unlinked only by its own user.
    assert!(!s
        .unlink_identity("t1", "u2", "https://up.example.com", "alice")
        .await
        .unwrap());
    assert!(s
        .unlink_identity("t1", "u1", "https://up.example.com", "alice")
        .await
        .unwrap());
    assert!(!s
        .unlink_identity("t1", "u1", "https://up.example.com", "alice")
        .await
        .unwrap());
    assert_eq!(
        s.federated_identity("t1", "https://up.example.com", "alice")
            .await
            .unwrap(),
        None
    );
    // Once unlinked, the identity may be linked again (to anyone).
    assert!(s
        .link_identity(&identity("t1", "alice", "u2", t + 6))
        .await
        .unwrap());

    // Deleting a user removes their identities, and only theirs.
    assert!(s.delete_user("t1", "u1", t + 7).await.unwrap());
    assert_eq!(s.identities_of("t1", "u1").await.unwrap(), []);
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM federated_identities WHERE tenant_id = 't1' AND user_sub = 'u1'"
        )
        .await,
        0
    );
    assert_eq!(s.identities_of("t1", "u2").await.unwrap().len(), 1);
    assert_eq!(s.identities_of("t2", "w1").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_user_is_created_with_its_identity_both_or_neither() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    s.create_tenant(&tenant("t1", &[])).await.unwrap();

    let new = user("t1", "fed1");
    let id = identity("t1", "alice", "fed1", t);
    s.create_federated_user(&new, &id).await.unwrap();
    assert_eq!(s.get_user("t1", "fed1").await.unwrap(), Some(new.clone()));
    assert_eq!(
        s.federated_identity("t1", "https://up.example.com", "alice")
            .await
            .unwrap(),
        Some(id.clone())
    );

    // The e-mail has an account: a conflict, and no identity row.
    let mut same_email = user("t1", "fed2");
    same_email.email = new.email.clone();
    assert!(is_conflict(
        s.create_federated_user(&same_email, &identity("t1", "bob", "fed2", t))
            .await
    ));
    assert_eq!(s.get_user("t1", "fed2").await.unwrap(), None);
    assert_eq!(
        s.federated_identity("t1", "https://up.example.com", "bob")
            .await
            .unwrap(),
        None
    );

    // The identity is linked already: a conflict, and no user row.
    let other = user("t1", "fed3");
    assert!(is_conflict(
        s.create_federated_user(&other, &identity("t1", "alice", "fed3", t))
            .await
    ));
    assert_eq!(s.get_user("t1", "fed3").await.unwrap(), None);
    assert_eq!(s.user_by_email("t1", &other.email).await.unwrap(), None);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE tenant_id = 't1'")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM federated_identities").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_sign_ins_create_one_user() {
    let db = Db::open().await;
    let t = now();
    db.store.create_tenant(&tenant("t1", &[])).await.unwrap();
    let two = [db.store.clone(), db.reopen().await];
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(6));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, start) = (two[i % 2].clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let sub = format!("racer{i}");
            let u = user("t1", &sub);
            start.wait().await;
            store
                .create_federated_user(&u, &identity("t1", "alice", &sub, t))
                .await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE tenant_id = 't1'")
            .await,
        1
    );
    let linked = db
        .store
        .federated_identity("t1", "https://up.example.com", "alice")
        .await
        .unwrap()
        .unwrap();
    assert!(db
        .store
        .get_user("t1", &linked.user_sub)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_are_read_taken_once_and_expire() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    let trip = state("t1", t + 60);
    s.put_federation_state("h1", &trip).await.unwrap();
    let link = FederationState {
        purpose: StatePurpose::Link,
        payload: "{}".into(),
        ..state("t1", t + 60)
    };
    s.put_federation_state("h2", &link).await.unwrap();

    // Read, left in place.
    assert_eq!(
        s.federation_state("h1", t).await.unwrap(),
        Some(trip.clone())
    );
    assert_eq!(
        s.federation_state("h1", t).await.unwrap(),
        Some(trip.clone())
    );
    assert_eq!(
        s.federation_state("h2", t).await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(s.federation_state("nope", t).await.unwrap(), None);
    // Taken once.
    assert_eq!(
        s.take_federation_state("h1", t).await.unwrap(),
        Some(trip.clone())
    );
    assert_eq!(s.take_federation_state("h1", t).await.unwrap(), None);
    assert_eq!(s.federation_state("h1", t).await.unwrap(), None);
    // Expired: neither read nor taken (at and after its expiry).
    assert_eq!(s.federation_state("h2", t + 60).await.unwrap(), None);
    assert_eq!(s.take_federation_state("h2", t + 61).await.unwrap(), None);
    // Still there before it expires.
    assert_eq!(
        s.take_federation_state("h2", t + 59).await.unwrap(),
        Some(link)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_takes_of_a_round_trip_have_one_winner() {
    let db = Db::open().await;
    let t = now();
    db.store.create_tenant(&tenant("t1", &[])).await.unwrap();
    db.store
        .put_federation_state("race", &state("t1", t + 60))
        .await
        .unwrap();
    let two = [db.store.clone(), db.reopen().await];
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, start) = (two[i % 2].clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.take_federation_state("race", t).await.unwrap()
        }));
    }
    let mut won = Vec::new();
    for task in tasks {
        if let Some(s) = task.await.unwrap() {
            won.push(s);
        }
    }
    assert_eq!(won, [state("t1", t + 60)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_expired_round_trips() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.put_federation_state("old1", &state("t1", t - 1))
        .await
        .unwrap();
    s.put_federation_state("old2", &state("t1", t - 100))
        .await
        .unwrap();
    s.put_federation_state("live", &state("t1", t + 60))
        .await
        .unwrap();
    let swept = s.sweep(t, 100).await.unwrap();
    let n = swept
        .iter()
        .find(|(table, _)| *table == "federation_states")
        .unwrap()
        .1;
    assert_eq!(n, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM federation_states").await, 1);
    assert!(s.federation_state("live", t).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_removes_its_upstreams_identities_and_round_trips() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    for id in ["t1", "t2"] {
        s.create_tenant(&tenant(id, &[])).await.unwrap();
        let sub = format!("{id}-user");
        s.create_user(&user(id, &sub)).await.unwrap();
        s.create_idp(&idp(id, "g1", "Google")).await.unwrap();
        assert!(s
            .link_identity(&identity(id, "alice", &sub, t))
            .await
            .unwrap());
        s.put_federation_state(&format!("state-{id}"), &state(id, t + 60))
            .await
            .unwrap();
    }
    assert!(s.delete_tenant("t1").await.unwrap());
    for table in ["upstream_idps", "federated_identities", "federation_states"] {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = 't1'"
            ))
            .await,
            0,
            "{table} keeps rows of the deleted tenant"
        );
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = 't2'"
            ))
            .await,
            1,
            "{table} lost rows of another tenant"
        );
    }
    assert_eq!(s.get_idp("t1", "g1").await.unwrap(), None);
    assert_eq!(s.federation_state("state-t1", t).await.unwrap(), None);
    assert!(s.get_idp("t2", "g1").await.unwrap().is_some());
    assert!(s.federation_state("state-t2", t).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_upstream_keeps_the_identities_it_linked() {
    let db = Db::open().await;
    let s = &*db.store;
    let t = now();
    s.create_tenant(&tenant("t1", &[])).await.unwrap();
    s.create_user(&user("t1", "u1")).await.unwrap();
    s.create_idp(&idp("t1", "up", "Up")).await.unwrap();
    assert!(s
        .link_identity(&identity("t1", "alice", "u1", t))
        .await
        .unwrap());
    assert!(s.delete_idp("t1", "up").await.unwrap());
    assert_eq!(s.identities_of("t1", "u1").await.unwrap().len(), 1);
}
