//! Whether a stored authorization code or refresh token may be exchanged.
//!
//! These are the decisions of RFC 6749 4.1.3 and 6, RFC 7636 4.6 and RFC
//! 9700 4.13/4.14. A refusal can carry a side effect that the caller must
//! commit even though the answer is `invalid_grant`: a replayed code or a
//! reused refresh token revokes the whole grant it belongs to.

use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, Grant, GrantType, RefreshPolicy, RefreshToken};
use crate::pkce;
use crate::scope::{self, Scope};

/// A refused exchange. When `revoke_grant` is set the caller must revoke that
/// grant (and so every token descending from it) before answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The `invalid_grant` (or other) error to answer with.
    pub error: OAuthError,
    /// The id of the grant to revoke first: set on replay of a code or reuse of a refresh token.
    pub revoke_grant: Option<String>,
}

impl Refusal {
    fn plain(error: OAuthError) -> Self {
        Refusal {
            error,
            revoke_grant: None,
        }
    }
    fn revoking(error: OAuthError, grant_id: &str) -> Self {
        Refusal {
            error,
            revoke_grant: Some(grant_id.to_string()),
        }
    }
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Refusal::plain(error)
    }
}

/// Checks the PKCE verifier against the grant's challenge. A verifier sent
/// for a grant without a challenge is refused too (RFC 9700 4.8.2: a PKCE
/// downgrade).
fn check_pkce(grant: &Grant, verifier: Option<&str>, required: bool) -> Result<(), OAuthError> {
    match (&grant.code_challenge, grant.code_challenge_method, verifier) {
        (Some(challenge), Some(method), Some(v)) => {
            if pkce::verify(method, challenge, v) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
        (Some(_), _, None) if required => Err(OAuthError::invalid_request(
            "the 'code_verifier' parameter is missing (PKCE)",
        )),
        (Some(_), _, None) => Ok(()),
        (None, _, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier was sent but the authorization request had no code_challenge",
        )),
        (None, _, None) => Ok(()),
        (Some(_), None, Some(_)) => Err(OAuthError::invalid_grant(
            "the grant's PKCE method is unknown",
        )),
    }
}

/// Decides an authorization_code exchange for an authenticated `client`.
pub fn check_code(
    grant: &Grant,
    client: &Client,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: i64,
) -> Result<(), Refusal> {
    if grant.client_id != client.id || grant.tenant_id != client.tenant_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        )
        .into());
    }
    if grant.code_consumed_at.is_some() {
        return Err(Refusal::revoking(
            OAuthError::invalid_grant(
                "the authorization code was already used; tokens issued with it are revoked",
            ),
            &grant.id,
        ));
    }
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the authorization code was revoked").into());
    }
    if now >= grant.code_expires_at {
        return Err(OAuthError::invalid_grant("the authorization code has expired").into());
    }
    match redirect_uri {
        Some(r) if r != grant.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the one sent to the authorization endpoint",
            )
            .into())
        }
        None if grant.redirect_uri_sent => return Err(OAuthError::invalid_request(
            "the 'redirect_uri' parameter is missing; it was sent to the authorization endpoint",
        )
        .into()),
        _ => {}
    }
    if client.public && grant.code_challenge.is_none() {
        return Err(OAuthError::invalid_grant("public clients must use PKCE").into());
    }
    check_pkce(grant, code_verifier, true)?;
    Ok(())
}

/// Decides a refresh_token exchange; returns the scope of the new access token.
pub fn check_refresh(
    token: &RefreshToken,
    grant: &Grant,
    client: &Client,
    requested: Option<&Scope>,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: i64,
) -> Result<Scope, Refusal> {
    if token.client_id != client.id || grant.client_id != client.id {
        return Err(
            OAuthError::invalid_grant("the refresh token was issued to another client").into(),
        );
    }
    if token.consumed_at.is_some() {
        return Err(Refusal::revoking(
            OAuthError::invalid_grant(
                "the refresh token was already used; every token of this grant is now revoked",
            ),
            &grant.id,
        ));
    }
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token was revoked").into());
    }
    if now >= family_ends_at(client, grant) {
        return Err(OAuthError::invalid_grant(
            "the refresh token's grant reached its maximum lifetime; the person must sign in again",
        )
        .into());
    }
    if now >= token.expires_at {
        return Err(OAuthError::invalid_grant("the refresh token has expired").into());
    }
    if let Some(r) = redirect_uri {
        if !crate::redirect::is_registered(&client.redirect_uris, r) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri is not registered for this client",
            )
            .into());
        }
    }
    check_pkce(grant, code_verifier, false)
        .map_err(|e| Refusal::plain(OAuthError::new(ErrorCode::InvalidGrant, e.description)))?;
    let granted = Scope::parse(&grant.scope).map_err(Refusal::plain)?;
    match requested {
        Some(req) if !req.is_subset_of(&granted) => Err(OAuthError::invalid_scope(
            "the requested scope exceeds what was originally granted",
        )
        .into()),
        Some(req) => Ok(req.clone()),
        None => Ok(granted),
    }
}

/// Which kind of credential an exchange presents; its noun is used in the
/// refusals, so a code and a refresh token are refused in their own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An authorization code (RFC 6749 4.1.3).
    AuthorizationCode,
    /// A refresh token (RFC 6749 6).
    RefreshToken,
    /// A device code (RFC 8628 3.4).
    DeviceCode,
}

impl Credential {
    /// The credential's name in an error description.
    pub fn noun(self) -> &'static str {
        match self {
            Credential::AuthorizationCode => "authorization code",
            Credential::RefreshToken => "refresh token",
            Credential::DeviceCode => "device code",
        }
    }
}

/// What the client presented with its code or refresh token, and the one
/// clock reading of its request.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The tenant whose door the request came in by.
    pub tenant_id: &'a str,
    /// The authenticated client.
    pub client: &'a Client,
    /// `redirect_uri`, if sent.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`, if sent.
    pub code_verifier: Option<&'a str>,
    /// The API named by `resource` or `audience`, if sent: it must be the
    /// grant's (RFC 8707 2.2: a token request may only repeat or narrow).
    pub resource: Option<&'a str>,
    /// The request's time (seconds since the epoch), read once per request.
    pub now: i64,
    /// The thumbprint of the key of the request's DPoP proof, if it sent a
    /// valid one (RFC 9449 5 and 10).
    pub dpop_jkt: Option<&'a str>,
}

/// The whole decision on an approved exchange: the scope of the access
/// token, and the record of the successor refresh token when the client's
/// policy gives one (the caller adds the hash of the value it drew and
/// stores it with the consume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The scope of the access token (and id_token) to issue.
    pub scope: Scope,
    /// The successor refresh token's record, if one is issued.
    pub successor: Option<RefreshToken>,
    /// A DPoP key the grant becomes bound to with this exchange (a public
    /// client's first proof; RFC 9449 5), to be stored with the consume.
    pub bind_dpop: Option<DpopBinding>,
}

/// A grant newly bound to a DPoP key: from now on its refresh tokens need
/// proofs by that key when its client is public (RFC 9449 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopBinding {
    /// The grant.
    pub grant_id: String,
    /// The JWK SHA-256 thumbprint of the key (RFC 7638).
    pub jkt: String,
}

/// The binding a decision stores: only a new one.
fn new_binding(grant: &Grant, decided: Option<&str>) -> Option<DpopBinding> {
    match (grant.dpop_jkt.as_deref(), decided) {
        (None, Some(jkt)) => Some(DpopBinding {
            grant_id: grant.id.clone(),
            jkt: jkt.to_string(),
        }),
        _ => None,
    }
}

/// The refusal of a code or refresh token that is not known (or not of the
/// door's tenant): the same words either way, so nothing is revealed.
pub fn unknown(credential: Credential) -> Refusal {
    Refusal::plain(OAuthError::invalid_grant(format!(
        "the {} is not valid",
        credential.noun()
    )))
}

/// The refusal when an approved exchange lost the race to consume: someone
/// used the code or token first (RFC 9700 4.13/4.14), so the grant is
/// revoked and this request refused.
pub fn lost_race(grant: &Grant, credential: Credential) -> Refusal {
    Refusal::revoking(
        OAuthError::invalid_grant(format!(
            "the {} was already used; every token of this grant is now revoked",
            credential.noun()
        )),
        &grant.id,
    )
}

/// A token request naming an API its grant is not for (RFC 8707 2.2).
fn check_resource(grant: &Grant, asked: Option<&str>) -> Result<(), Refusal> {
    match asked {
        Some(r) if grant.resource.as_deref() != Some(r) => Err(Refusal::plain(
            OAuthError::invalid_target("the grant is not for this resource"),
        )),
        _ => Ok(()),
    }
}

/// The refusal when the grant's person was deleted.
pub fn person_gone() -> Refusal {
    Refusal::plain(OAuthError::invalid_grant(
        "the person this grant was made for no longer exists",
    ))
}

/// Decides a whole authorization_code exchange: the code's checks, the
/// door's tenant, the person still existing, and the successor refresh
/// token by the client's policy.
pub fn decide_code(
    grant: &Grant,
    person_exists: bool,
    p: &Presented<'_>,
) -> Result<Decision, Refusal> {
    if grant.tenant_id != p.tenant_id {
        return Err(unknown(Credential::AuthorizationCode));
    }
    check_code(grant, p.client, p.redirect_uri, p.code_verifier, p.now)?;
    check_resource(grant, p.resource)?;
    let binding = crate::dpop::Binding {
        bound: grant.dpop_jkt.as_deref(),
        proof: p.dpop_jkt,
    };
    let bound = crate::dpop::bind_code(binding, p.client.public)
        .map_err(|e| Refusal::plain(e.to_oauth(Credential::AuthorizationCode.noun())))?;
    if !person_exists {
        return Err(person_gone());
    }
    let scope = Scope::parse(&grant.scope)?;
    let successor = successor(grant, &scope, p);
    Ok(Decision {
        scope,
        successor,
        bind_dpop: new_binding(grant, bound),
    })
}

/// Decides a whole refresh_token exchange. The access token may be
/// narrowed to `requested`; the successor keeps the grant's full scope
/// (RFC 6749 6), so the client's policy is asked about the full scope.
pub fn decide_refresh(
    token: &RefreshToken,
    grant: &Grant,
    person_exists: bool,
    requested: Option<&Scope>,
    p: &Presented<'_>,
) -> Result<Decision, Refusal> {
    if token.tenant_id != p.tenant_id {
        return Err(unknown(Credential::RefreshToken));
    }
    let scope = check_refresh(
        token,
        grant,
        p.client,
        requested,
        p.redirect_uri,
        p.code_verifier,
        p.now,
    )?;
    check_resource(grant, p.resource)?;
    let binding = crate::dpop::Binding {
        bound: grant.dpop_jkt.as_deref(),
        proof: p.dpop_jkt,
    };
    let bound = crate::dpop::bind_refresh(binding, p.client.public)
        .map_err(|e| Refusal::plain(e.to_oauth(Credential::RefreshToken.noun())))?;
    if !person_exists {
        return Err(person_gone());
    }
    let full = Scope::parse(&grant.scope)?;
    let successor = successor(grant, &full, p);
    Ok(Decision {
        scope,
        successor,
        bind_dpop: new_binding(grant, bound),
    })
}

/// The successor refresh token's record: sliding expiry, never beyond the
/// family's absolute end; `None` when the client's policy gives none.
fn successor(grant: &Grant, scope: &Scope, p: &Presented<'_>) -> Option<RefreshToken> {
    issues_refresh_token(p.client, scope).then(|| RefreshToken {
        grant_id: grant.id.clone(),
        tenant_id: p.tenant_id.to_string(),
        client_id: p.client.id.clone(),
        created_at: p.now,
        expires_at: refresh_token_expiry(p.client, grant, p.now),
        consumed_at: None,
    })
}

/// The scope of a client_credentials token: anything but the scopes that
/// stand for a person.
pub fn check_client_credentials(
    client: &Client,
    requested: Option<&Scope>,
) -> Result<Scope, OAuthError> {
    if client.public {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    let scope = requested.cloned().unwrap_or_default();
    if let Some(bad) = scope.tokens().find(|t| scope::USER_SCOPES.contains(t)) {
        return Err(OAuthError::invalid_scope(format!(
            "scope '{bad}' needs a signed-in person and cannot be granted to client_credentials"
        )));
    }
    Ok(scope)
}

/// When the refresh-token family of `grant` ends: the client's
/// `refresh_token_max_ttl` after the grant was made (its first issue).
pub fn family_ends_at(client: &Client, grant: &Grant) -> i64 {
    grant
        .created_at
        .saturating_add(client.refresh_token_max_ttl)
}

/// The expiry of a refresh token issued at `now` for `grant`: the sliding
/// [`REFRESH_TOKEN_TTL`](crate::model::REFRESH_TOKEN_TTL), never beyond the
/// family's end.
pub fn refresh_token_expiry(client: &Client, grant: &Grant, now: i64) -> i64 {
    now.saturating_add(crate::model::REFRESH_TOKEN_TTL)
        .min(family_ends_at(client, grant))
}

/// Whether the client gets a refresh token for this scope (docs/cli.md:
/// `always`, `offline_access` only when granted, `never`).
pub fn issues_refresh_token(client: &Client, scope: &Scope) -> bool {
    client.allows(GrantType::RefreshToken)
        && match client.refresh_policy {
            RefreshPolicy::Always => true,
            RefreshPolicy::OfflineAccess => scope.contains(scope::OFFLINE_ACCESS),
            RefreshPolicy::Never => false,
        }
}

mod device;
pub use device::decide_device;

#[cfg(test)]
mod tests;
