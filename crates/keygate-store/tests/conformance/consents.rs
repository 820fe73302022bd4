//! Consents (src/consents.rs, `ConsentStore`): one per person, client and
//! API, replaced on save; revoking removes the client's consents and
//! revokes the person's grants of that client, and nobody else's.

use crate::*;
use keygate_core::model::Consent;

fn consent(sub: &str, client: &str, resource: &str, scopes: &[&str], at: i64) -> Consent {
    Consent {
        tenant_id: "t1".into(),
        user_sub: sub.into(),
        client_id: client.into(),
        resource: resource.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        granted_at: at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consents_are_replaced_listed_and_revoked_with_their_grants() {
    let db = Db::open().await;
    let (c, u) = setting(&*db.store).await;
    let s = db.store.clone();
    let t = now();
    s.save_consent(&consent(&u.sub, &c.id, "", &["openid"], t))
        .await
        .unwrap();
    s.save_consent(&consent(&u.sub, &c.id, "", &["openid", "email"], t + 1))
        .await
        .unwrap();
    s.save_consent(&consent(&u.sub, &c.id, "urn:api", &["a:read"], t))
        .await
        .unwrap();
    s.save_consent(&consent("other", &c.id, "", &["openid"], t))
        .await
        .unwrap();
    assert_eq!(
        s.consent("t1", &u.sub, &c.id, "").await.unwrap(),
        Some(consent(&u.sub, &c.id, "", &["openid", "email"], t + 1))
    );
    assert_eq!(s.consents_of("t1", &u.sub).await.unwrap().len(), 2);
    // The person's grant of the client, and someone else's.
    make_grant(&*s, &grant("g-mine", &c, &u.sub, t, 600)).await;
    make_grant(&*s, &grant("g-other", &c, "other", t, 600)).await;
    assert!(s.revoke_consent("t1", &u.sub, &c.id, t + 5).await.unwrap());
    assert!(!s.revoke_consent("t1", &u.sub, &c.id, t + 6).await.unwrap());
    assert!(s.consents_of("t1", &u.sub).await.unwrap().is_empty());
    assert_eq!(
        s.get_grant("g-mine").await.unwrap().unwrap().revoked_at,
        Some(t + 5)
    );
    assert_eq!(
        s.get_grant("g-other").await.unwrap().unwrap().revoked_at,
        None
    );
    assert!(s.consent("t1", "other", &c.id, "").await.unwrap().is_some());
    // Deleting the client takes the rest along.
    assert!(s.delete_client("t1", &c.id, t + 7).await.unwrap());
    assert!(s.consent("t1", "other", &c.id, "").await.unwrap().is_none());
}
