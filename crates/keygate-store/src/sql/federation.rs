//! The statements of [`FederationStore`]. A first sign-in writes the user
//! and its identity in one write, so the identity's key decides a race.

use super::SqlStore;
use crate::federation::FederationStore;
use crate::row::Cols;
use crate::write::Write;
use crate::{Result, StoreError};
use async_trait::async_trait;
use keygate_core::federation::{
    ClaimMap, FederatedIdentity, FederationState, IdpKind, StatePurpose, UpstreamIdp,
};
use keygate_core::model::User;

const IDP_COLS: &str = "tenant_id, id, name, kind, issuer, client_id, client_secret_sealed, \
    scopes, authorize_url, token_url, userinfo_url, claims, created_at";

const IDENTITY_COLS: &str =
    "tenant_id, issuer, subject, user_sub, idp_id, idp_name, email, created_at, last_used_at";

fn idp_from(row: &dyn Cols) -> Result<UpstreamIdp> {
    let kind = row.text("kind")?;
    let claims = row.text("claims")?;
    Ok(UpstreamIdp {
        tenant_id: row.text("tenant_id")?,
        id: row.text("id")?,
        name: row.text("name")?,
        kind: IdpKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown upstream kind '{kind}'")))?,
        issuer: row.text("issuer")?,
        client_id: row.text("client_id")?,
        client_secret_sealed: row.opt_text("client_secret_sealed")?,
        scopes: crate::row::words(&row.text("scopes")?),
        authorize_url: row.opt_text("authorize_url")?,
        token_url: row.opt_text("token_url")?,
        userinfo_url: row.opt_text("userinfo_url")?,
        claims: serde_json::from_str::<ClaimMap>(&claims)
            .map_err(|e| StoreError::Backend(format!("an upstream's claim map: {e}")))?,
        created_at: row.int("created_at")?,
    })
}

fn identity_from(row: &dyn Cols) -> Result<FederatedIdentity> {
    Ok(FederatedIdentity {
        tenant_id: row.text("tenant_id")?,
        issuer: row.text("issuer")?,
        subject: row.text("subject")?,
        user_sub: row.text("user_sub")?,
        idp_id: row.text("idp_id")?,
        idp_name: row.text("idp_name")?,
        email: row.opt_text("email")?,
        created_at: row.int("created_at")?,
        last_used_at: row.int("last_used_at")?,
    })
}

fn state_from(row: &dyn Cols) -> Result<FederationState> {
    let purpose = row.text("purpose")?;
    Ok(FederationState {
        tenant_id: row.text("tenant_id")?,
        purpose: StatePurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Backend(format!("unknown purpose '{purpose}'")))?,
        payload: row.text("payload")?,
        expires_at: row.int("expires_at")?,
    })
}

/// The parameters of an upstream, in [`IDP_COLS`] order.
fn idp_params(idp: &UpstreamIdp) -> Vec<crate::row::OwnedParam> {
    use crate::row::OwnedParam as P;
    let claims = serde_json::to_string(&idp.claims).unwrap_or_else(|_| "{}".into());
    vec![
        P::Text(idp.tenant_id.clone()),
        P::Text(idp.id.clone()),
        P::Text(idp.name.clone()),
        P::Text(idp.kind.as_str().into()),
        P::Text(idp.issuer.clone()),
        P::Text(idp.client_id.clone()),
        P::OptText(idp.client_secret_sealed.clone()),
        P::Text(idp.scopes.join(" ")),
        P::OptText(idp.authorize_url.clone()),
        P::OptText(idp.token_url.clone()),
        P::OptText(idp.userinfo_url.clone()),
        P::Text(claims),
        P::Int(idp.created_at),
    ]
}

/// Adds the insert of `identity` to `write`; when `if_user`, only if its
/// user exists at that moment.
fn insert_identity(write: Write, i: &FederatedIdentity, if_user: bool) -> Write {
    let sql = if if_user {
        format!(
            "INSERT INTO federated_identities ({IDENTITY_COLS}) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND sub = $4)"
        )
    } else {
        format!("INSERT INTO federated_identities ({IDENTITY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
    };
    write.then(
        sql,
        &[
            (&i.tenant_id).into(),
            (&i.issuer).into(),
            (&i.subject).into(),
            (&i.user_sub).into(),
            (&i.idp_id).into(),
            (&i.idp_name).into(),
            (&i.email).into(),
            i.created_at.into(),
            i.last_used_at.into(),
        ],
    )
}

#[async_trait]
impl FederationStore for SqlStore {
    async fn create_idp(&self, idp: &UpstreamIdp) -> Result<()> {
        let write = Write::new()
            .then_owned(
                format!("INSERT INTO upstream_idps ({IDP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"),
                idp_params(idp),
            )
            .conflict(format!("the tenant already has an upstream named '{}'", idp.name));
        self.write(write).await?;
        Ok(())
    }

    async fn get_idp(&self, tenant_id: &str, id: &str) -> Result<Option<UpstreamIdp>> {
        self.first(
            &format!("SELECT {IDP_COLS} FROM upstream_idps WHERE tenant_id = $1 AND id = $2"),
            &[tenant_id.into(), id.into()],
            idp_from,
        )
        .await
    }

    async fn list_idps(&self, tenant_id: &str) -> Result<Vec<UpstreamIdp>> {
        self.all(
            &format!("SELECT {IDP_COLS} FROM upstream_idps WHERE tenant_id = $1 ORDER BY name, id"),
            &[tenant_id.into()],
            idp_from,
        )
        .await
    }

    async fn update_idp(&self, idp: &UpstreamIdp) -> Result<bool> {
        let write = Write::new()
            .then_owned(
                "UPDATE upstream_idps SET name = $3, kind = $4, issuer = $5, client_id = $6, \
                 client_secret_sealed = $7, scopes = $8, authorize_url = $9, token_url = $10, \
                 userinfo_url = $11, claims = $12 WHERE tenant_id = $1 AND id = $2",
                idp_params(idp)[..12].to_vec(),
            )
            .conflict(format!(
                "the tenant already has an upstream named '{}'",
                idp.name
            ))
            .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }

    async fn delete_idp(&self, tenant_id: &str, id: &str) -> Result<bool> {
        // Its round trips in progress hold its id in their JSON; they fail
        // at the callback (no such upstream) and are swept when expired.
        let write = Write::new()
            .then(
                "DELETE FROM upstream_idps WHERE tenant_id = $1 AND id = $2",
                &[tenant_id.into(), id.into()],
            )
            .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }

    async fn federated_identity(
        &self,
        tenant_id: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<FederatedIdentity>> {
        self.first(
            &format!(
                "SELECT {IDENTITY_COLS} FROM federated_identities \
                 WHERE tenant_id = $1 AND issuer = $2 AND subject = $3"
            ),
            &[tenant_id.into(), issuer.into(), subject.into()],
            identity_from,
        )
        .await
    }

    async fn identities_of(
        &self,
        tenant_id: &str,
        user_sub: &str,
    ) -> Result<Vec<FederatedIdentity>> {
        self.all(
            &format!(
                "SELECT {IDENTITY_COLS} FROM federated_identities \
                 WHERE tenant_id = $1 AND user_sub = $2 ORDER BY created_at, issuer, subject"
            ),
            &[tenant_id.into(), user_sub.into()],
            identity_from,
        )
        .await
    }

    async fn link_identity(&self, identity: &FederatedIdentity) -> Result<bool> {
        // The user must exist when the link is written (not only when it
        // was offered): a user deleted meanwhile gets no identity.
        let write = insert_identity(Write::new(), identity, true)
            .conflict("the identity is already linked")
            .exactly_one();
        match self.write(write).await {
            Ok(outcome) => Ok(!outcome.is_undone()),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn create_federated_user(&self, user: &User, identity: &FederatedIdentity) -> Result<()> {
        let write = super::users::insert_user(user);
        let write =
            insert_identity(write, identity, false).conflict("the identity is already linked");
        self.write(write).await?;
        Ok(())
    }

    async fn touch_identity(
        &self,
        tenant_id: &str,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE federated_identities SET last_used_at = $4 \
             WHERE tenant_id = $1 AND issuer = $2 AND subject = $3",
            &[tenant_id.into(), issuer.into(), subject.into(), now.into()],
        ))
        .await?;
        Ok(())
    }

    async fn unlink_identity(
        &self,
        tenant_id: &str,
        user_sub: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<bool> {
        self.write_one(Write::new().then(
            "DELETE FROM federated_identities \
             WHERE tenant_id = $1 AND user_sub = $2 AND issuer = $3 AND subject = $4",
            &[
                tenant_id.into(),
                user_sub.into(),
                issuer.into(),
                subject.into(),
            ],
        ))
        .await
    }

    async fn put_federation_state(&self, hash: &str, s: &FederationState) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO federation_states (hash, tenant_id, purpose, payload, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                hash.into(),
                (&s.tenant_id).into(),
                s.purpose.as_str().into(),
                (&s.payload).into(),
                s.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn federation_state(&self, hash: &str, now: i64) -> Result<Option<FederationState>> {
        self.first(
            "SELECT tenant_id, purpose, payload, expires_at FROM federation_states \
             WHERE hash = $1 AND expires_at > $2",
            &[hash.into(), now.into()],
            state_from,
        )
        .await
    }

    async fn take_federation_state(&self, hash: &str, now: i64) -> Result<Option<FederationState>> {
        // A record never changes once written, so the one read before the
        // delete is what the delete took; the delete decides who wins.
        let Some(found) = self.federation_state(hash, now).await? else {
            return Ok(None);
        };
        let write = Write::new()
            .then(
                "DELETE FROM federation_states WHERE hash = $1 AND expires_at > $2 RETURNING hash",
                &[hash.into(), now.into()],
            )
            .returning()
            .exactly_one();
        Ok((!self.write(write).await?.is_undone()).then_some(found))
    }
}
