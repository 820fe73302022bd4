//! APIs and client grants (src/apis.rs, `ApiStore`): an identifier is
//! unique per tenant; a grant is replaced, not added twice; an API's
//! update trims its grants to the scopes it still defines; deleting an
//! API, a client or a tenant takes their grants along.

use crate::*;
use keygate_core::model::{Api, ClientGrant, SigningAlg};
use keygate_store::StoreError;

fn api(tenant: &str, id: &str, scopes: &[&str]) -> Api {
    Api {
        tenant_id: tenant.into(),
        identifier: id.into(),
        name: "Payments".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        access_token_ttl: Some(600),
        signing_alg: Some(SigningAlg::ES256),
        created_at: 7,
    }
}

fn grant(client: &str, api: &str, scopes: &[&str]) -> ClientGrant {
    ClientGrant {
        tenant_id: "t1".into(),
        client_id: client.into(),
        api: api.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

const PAY: &str = "https://api.example/pay";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apis_are_unique_per_tenant_and_round_trip() {
    let db = Db::open().await;
    let (_, _) = setting(&*db.store).await;
    let s = db.store.clone();
    s.create_tenant(&tenant("t2", &[])).await.unwrap();
    let a = api("t1", PAY, &["pay:read", "pay:write"]);
    s.create_api(&a).await.unwrap();
    assert!(matches!(
        s.create_api(&a).await,
        Err(StoreError::Conflict(_))
    ));
    // The same identifier in another tenant is another API.
    s.create_api(&api("t2", PAY, &[])).await.unwrap();
    assert_eq!(s.get_api("t1", PAY).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_api("t1", "urn:none").await.unwrap(), None);
    let mut b = api("t1", "urn:acme:ledger", &[]);
    b.access_token_ttl = None;
    b.signing_alg = None;
    s.create_api(&b).await.unwrap();
    assert_eq!(s.list_apis("t1").await.unwrap(), vec![a.clone(), b.clone()]);
    assert!(s.delete_api("t1", "urn:acme:ledger").await.unwrap());
    assert!(!s.delete_api("t1", "urn:acme:ledger").await.unwrap());
    assert_eq!(s.list_apis("t1").await.unwrap(), vec![a]);
    assert!(!s.update_api(&b).await.unwrap(), "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grants_are_replaced_trimmed_and_removed_with_what_they_name() {
    let db = Db::open().await;
    let (c, _) = setting(&*db.store).await;
    let s = db.store.clone();
    s.create_api(&api("t1", PAY, &["pay:read", "pay:write"]))
        .await
        .unwrap();
    s.create_api(&api("t1", "urn:ledger", &["l:read"]))
        .await
        .unwrap();
    s.set_client_grant(&grant(&c.id, PAY, &["pay:read"]))
        .await
        .unwrap();
    s.set_client_grant(&grant(&c.id, PAY, &["pay:read", "pay:write"]))
        .await
        .unwrap();
    s.set_client_grant(&grant(&c.id, "urn:ledger", &["l:read"]))
        .await
        .unwrap();
    assert_eq!(
        s.client_grants("t1", &c.id).await.unwrap(),
        vec![
            grant(&c.id, PAY, &["pay:read", "pay:write"]),
            grant(&c.id, "urn:ledger", &["l:read"]),
        ]
    );
    // The API drops a scope: the grant drops it too.
    assert!(s.update_api(&api("t1", PAY, &["pay:write"])).await.unwrap());
    assert_eq!(
        s.client_grant("t1", &c.id, PAY).await.unwrap(),
        Some(grant(&c.id, PAY, &["pay:write"]))
    );
    // Deleting the API deletes its grants; deleting the client the rest.
    assert!(s.delete_api("t1", PAY).await.unwrap());
    assert_eq!(s.client_grant("t1", &c.id, PAY).await.unwrap(), None);
    assert!(!s.delete_client_grant("t1", &c.id, PAY).await.unwrap());
    assert!(s.delete_client("t1", &c.id, now()).await.unwrap());
    assert!(s.client_grants("t1", &c.id).await.unwrap().is_empty());
    // Deleting the tenant deletes its APIs.
    assert!(s.delete_tenant("t1").await.unwrap());
    assert!(s.list_apis("t1").await.unwrap().is_empty());
}
