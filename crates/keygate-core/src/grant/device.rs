//! Redeeming the grant of an allowed device authorization (RFC 8628 3.5):
//! the grant made when the person allowed it carries a code that only the
//! device code's poll can present, consumed once like an authorization
//! code, so racing polls get one set of tokens (RFC 6749 10.5).

use super::{
    check_resource, new_binding, person_gone, successor, unknown, Credential, Decision, Presented,
    Refusal,
};
use crate::error::OAuthError;
use crate::model::Grant;
use crate::scope::Scope;

/// Decides the redemption of `grant`, the grant of an allowed device
/// authorization: the door's tenant and the polling client must be the
/// grant's, its code unused (a second redemption revokes the grant and
/// every token of the first, as a replayed code does), unexpired and not
/// revoked, the API named now (if any) the grant's, and the person still
/// there; the successor refresh token follows the client's policy. A
/// public client's proof binds the grant's refresh tokens to its DPoP key
/// (RFC 9449 5), as at a code exchange.
pub fn decide_device(
    grant: &Grant,
    person_exists: bool,
    p: &Presented<'_>,
) -> Result<Decision, Refusal> {
    if grant.tenant_id != p.tenant_id || grant.client_id != p.client.id {
        return Err(unknown(Credential::DeviceCode));
    }
    if grant.code_consumed_at.is_some() {
        return Err(Refusal::revoking(
            OAuthError::invalid_grant(
                "the device code was already used; tokens issued with it are revoked",
            ),
            &grant.id,
        ));
    }
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the device authorization was revoked").into());
    }
    if p.now >= grant.code_expires_at {
        return Err(OAuthError::new(
            crate::error::ErrorCode::ExpiredToken,
            "the device code has expired; start a new device authorization",
        )
        .into());
    }
    check_resource(grant, p.resource)?;
    if !person_exists {
        return Err(person_gone());
    }
    let binding = crate::dpop::Binding {
        bound: grant.dpop_jkt.as_deref(),
        proof: p.dpop_jkt,
    };
    let bound = crate::dpop::bind_code(binding, p.client.public)
        .map_err(|e| Refusal::plain(e.to_oauth(Credential::DeviceCode.noun())))?;
    let scope = Scope::parse(&grant.scope)?;
    let successor = successor(grant, &scope, p);
    Ok(Decision {
        scope,
        successor,
        bind_dpop: new_binding(grant, bound),
    })
}
