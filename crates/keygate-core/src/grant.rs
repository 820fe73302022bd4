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
        if !client.redirect_uris.iter().any(|u| u == r) {
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
}

impl Credential {
    /// The credential's name in an error description.
    pub fn noun(self) -> &'static str {
        match self {
            Credential::AuthorizationCode => "authorization code",
            Credential::RefreshToken => "refresh token",
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
    /// The request's time (seconds since the epoch), read once per request.
    pub now: i64,
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
    if !person_exists {
        return Err(person_gone());
    }
    let scope = Scope::parse(&grant.scope)?;
    let successor = successor(grant, &scope, p);
    Ok(Decision { scope, successor })
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
    if !person_exists {
        return Err(person_gone());
    }
    let full = Scope::parse(&grant.scope)?;
    let successor = successor(grant, &full, p);
    Ok(Decision { scope, successor })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::pkce::{s256_challenge, CodeChallengeMethod};

    const V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn client(public: bool) -> Client {
        Client {
            id: "c1".into(),
            tenant_id: "t".into(),
            name: "n".into(),
            public,
            secret_hash: None,
            auth_method: if public {
                AuthMethod::None
            } else {
                AuthMethod::ClientSecretBasic
            },
            redirect_uris: vec!["https://app/cb".into(), "https://app/other".into()],
            post_logout_redirect_uris: vec![],
            grant_types: GrantType::ALL.to_vec(),
            refresh_policy: RefreshPolicy::OfflineAccess,
            id_token_ttl: 10,
            access_token_ttl: 10,
            refresh_token_max_ttl: DEFAULT_REFRESH_TOKEN_MAX_TTL,
            journeys_api: false,
            web_origins: vec![],
            signing_alg: SigningAlg::RS256,
            pkce: PkcePolicy::S256,
            created_at: 0,
            token_rate_limit: None,
        }
    }

    fn grant() -> Grant {
        Grant {
            id: "g1".into(),
            tenant_id: "t".into(),
            client_id: "c1".into(),
            user_sub: "u".into(),
            scope: "openid email offline_access".into(),
            auth_time: 50,
            nonce: None,
            code_challenge: Some(s256_challenge(V)),
            code_challenge_method: Some(CodeChallengeMethod::S256),
            redirect_uri: "https://app/cb".into(),
            redirect_uri_sent: true,
            created_at: 100,
            code_expires_at: 160,
            code_consumed_at: None,
            revoked_at: None,
        }
    }

    fn code(e: Result<(), Refusal>) -> Option<(ErrorCode, bool)> {
        e.err().map(|r| (r.error.code, r.revoke_grant.is_some()))
    }

    #[test]
    fn code_exchange_rules() {
        let c = client(true);
        let g = grant();
        assert_eq!(
            code(check_code(&g, &c, Some("https://app/cb"), Some(V), 120)),
            None
        );
        // another client
        let mut other = c.clone();
        other.id = "c2".into();
        assert_eq!(
            code(check_code(&g, &other, Some("https://app/cb"), Some(V), 120)),
            Some((ErrorCode::InvalidGrant, false))
        );
        // replay revokes
        let mut used = g.clone();
        used.code_consumed_at = Some(110);
        assert_eq!(
            code(check_code(&used, &c, Some("https://app/cb"), Some(V), 120)),
            Some((ErrorCode::InvalidGrant, true))
        );
        // expired (the boundary second is expired)
        assert_eq!(
            code(check_code(&g, &c, Some("https://app/cb"), Some(V), 160)),
            Some((ErrorCode::InvalidGrant, false))
        );
        // redirect mismatch and missing
        assert_eq!(
            code(check_code(&g, &c, Some("https://app/other"), Some(V), 120)),
            Some((ErrorCode::InvalidGrant, false))
        );
        assert_eq!(
            code(check_code(&g, &c, None, Some(V), 120)),
            Some((ErrorCode::InvalidRequest, false))
        );
        let mut implied = g.clone();
        implied.redirect_uri_sent = false;
        assert_eq!(code(check_code(&implied, &c, None, Some(V), 120)), None);
        // PKCE
        assert_eq!(
            code(check_code(&g, &c, Some("https://app/cb"), None, 120)),
            Some((ErrorCode::InvalidRequest, false))
        );
        assert_eq!(
            code(check_code(
                &g,
                &c,
                Some("https://app/cb"),
                Some(&V.replace('d', "x")),
                120
            )),
            Some((ErrorCode::InvalidGrant, false))
        );
        let mut plain = g.clone();
        plain.code_challenge = Some(V.into());
        plain.code_challenge_method = Some(CodeChallengeMethod::Plain);
        assert_eq!(
            code(check_code(&plain, &c, Some("https://app/cb"), Some(V), 120)),
            None
        );
        // downgrade: verifier without challenge; public client without challenge
        let mut none = g.clone();
        none.code_challenge = None;
        none.code_challenge_method = None;
        assert_eq!(
            code(check_code(
                &none,
                &client(false),
                Some("https://app/cb"),
                Some(V),
                120
            )),
            Some((ErrorCode::InvalidGrant, false))
        );
        assert_eq!(
            code(check_code(
                &none,
                &client(false),
                Some("https://app/cb"),
                None,
                120
            )),
            None
        );
        assert_eq!(
            code(check_code(&none, &c, Some("https://app/cb"), None, 120)),
            Some((ErrorCode::InvalidGrant, false))
        );
        // revoked
        let mut revoked = g.clone();
        revoked.revoked_at = Some(1);
        assert_eq!(
            code(check_code(
                &revoked,
                &c,
                Some("https://app/cb"),
                Some(V),
                120
            )),
            Some((ErrorCode::InvalidGrant, false))
        );
    }

    fn rt() -> RefreshToken {
        RefreshToken {
            grant_id: "g1".into(),
            tenant_id: "t".into(),
            client_id: "c1".into(),
            created_at: 100,
            expires_at: 1000,
            consumed_at: None,
        }
    }

    #[test]
    fn refresh_rules() {
        let c = client(true);
        let g = grant();
        let s = |x: &str| Scope::parse(x).unwrap();
        assert_eq!(
            check_refresh(&rt(), &g, &c, None, None, None, 200)
                .unwrap()
                .to_string(),
            "openid email offline_access"
        );
        assert_eq!(
            check_refresh(&rt(), &g, &c, Some(&s("openid")), None, None, 200)
                .unwrap()
                .to_string(),
            "openid"
        );
        assert_eq!(
            check_refresh(&rt(), &g, &c, Some(&s("openid profile")), None, None, 200)
                .unwrap_err()
                .error
                .code,
            ErrorCode::InvalidScope
        );
        // Next Identity's extra parameters
        assert!(
            check_refresh(&rt(), &g, &c, None, Some("https://app/other"), Some(V), 200).is_ok()
        );
        assert_eq!(
            check_refresh(&rt(), &g, &c, None, Some("https://evil/cb"), None, 200)
                .unwrap_err()
                .error
                .code,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            check_refresh(&rt(), &g, &c, None, None, Some(&V.replace('d', "x")), 200)
                .unwrap_err()
                .error
                .code,
            ErrorCode::InvalidGrant
        );
        // reuse revokes the family
        let mut used = rt();
        used.consumed_at = Some(150);
        let r = check_refresh(&used, &g, &c, None, None, None, 200).unwrap_err();
        assert_eq!(
            (r.error.code, r.revoke_grant.as_deref()),
            (ErrorCode::InvalidGrant, Some("g1"))
        );
        // expired, revoked, other client
        assert_eq!(
            check_refresh(&rt(), &g, &c, None, None, None, 1000)
                .unwrap_err()
                .error
                .code,
            ErrorCode::InvalidGrant
        );
        let mut revoked = g.clone();
        revoked.revoked_at = Some(1);
        assert!(check_refresh(&rt(), &revoked, &c, None, None, None, 200).is_err());
        let mut other = c.clone();
        other.id = "c2".into();
        assert!(check_refresh(&rt(), &g, &other, None, None, None, 200).is_err());
    }

    #[test]
    fn refresh_families_end_at_the_clients_maximum_lifetime() {
        let mut c = client(true);
        c.refresh_token_max_ttl = 500;
        let g = grant(); // created at 100: the family ends at 600
        assert_eq!(family_ends_at(&c, &g), 600);
        assert!(check_refresh(&rt(), &g, &c, None, None, None, 599).is_ok());
        // The token itself would live until 1000; the family does not.
        let r = check_refresh(&rt(), &g, &c, None, None, None, 600).unwrap_err();
        assert_eq!(r.error.code, ErrorCode::InvalidGrant);
        assert!(
            r.error.description.contains("maximum lifetime"),
            "{}",
            r.error.description
        );
        assert_eq!(r.revoke_grant, None);
        // Reuse past the end still revokes the family.
        let mut used = rt();
        used.consumed_at = Some(150);
        let r = check_refresh(&used, &g, &c, None, None, None, 700).unwrap_err();
        assert_eq!(r.revoke_grant.as_deref(), Some("g1"));
        // A rotated token never outlives its family; early on, it slides.
        assert_eq!(refresh_token_expiry(&c, &g, 550), 600);
        c.refresh_token_max_ttl = DEFAULT_REFRESH_TOKEN_MAX_TTL;
        assert_eq!(refresh_token_expiry(&c, &g, 550), 550 + REFRESH_TOKEN_TTL);
        assert_eq!(
            refresh_token_expiry(&c, &g, 80 * 86400),
            100 + DEFAULT_REFRESH_TOKEN_MAX_TTL
        );
    }

    #[test]
    fn client_credentials_and_refresh_policy() {
        let c = client(false);
        assert_eq!(
            check_client_credentials(&c, Some(&Scope::parse("api:read").unwrap()))
                .unwrap()
                .to_string(),
            "api:read"
        );
        assert_eq!(
            check_client_credentials(&c, Some(&Scope::parse("openid").unwrap()))
                .unwrap_err()
                .code,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            check_client_credentials(&client(true), None)
                .unwrap_err()
                .code,
            ErrorCode::UnauthorizedClient
        );

        let offline = Scope::parse("openid offline_access").unwrap();
        let online = Scope::parse("openid").unwrap();
        let mut c = client(false);
        assert!(issues_refresh_token(&c, &offline));
        assert!(!issues_refresh_token(&c, &online));
        c.refresh_policy = RefreshPolicy::Always;
        assert!(issues_refresh_token(&c, &online));
        c.refresh_policy = RefreshPolicy::Never;
        assert!(!issues_refresh_token(&c, &offline));
        c.refresh_policy = RefreshPolicy::Always;
        c.grant_types = vec![GrantType::AuthorizationCode];
        assert!(!issues_refresh_token(&c, &online));
    }

    fn presented<'a>(c: &'a Client, now: i64) -> Presented<'a> {
        Presented {
            tenant_id: "t",
            client: c,
            redirect_uri: Some("https://app/cb"),
            code_verifier: Some(V),
            now,
        }
    }

    #[test]
    fn a_code_decision_is_whole() {
        let c = client(true);
        let g = grant();
        let d = decide_code(&g, true, &presented(&c, 120)).unwrap();
        assert_eq!(d.scope.to_string(), "openid email offline_access");
        let next = d.successor.expect("offline_access gives a refresh token");
        assert_eq!(
            (
                next.grant_id.as_str(),
                next.tenant_id.as_str(),
                next.client_id.as_str()
            ),
            ("g1", "t", "c1")
        );
        assert_eq!((next.created_at, next.consumed_at), (120, None));
        assert_eq!(next.expires_at, refresh_token_expiry(&c, &g, 120));
        // Without offline_access the policy gives none.
        let mut online = g.clone();
        online.scope = "openid email".into();
        let d = decide_code(&online, true, &presented(&c, 120)).unwrap();
        assert_eq!(d.successor, None);
        // Another tenant's code is "not valid", in the same words as an unknown one.
        let mut foreign = g.clone();
        foreign.tenant_id = "t2".into();
        let refused = decide_code(&foreign, true, &presented(&c, 120)).unwrap_err();
        assert_eq!(refused, unknown(Credential::AuthorizationCode));
        assert_eq!(
            refused.error.description,
            "the authorization code is not valid"
        );
        // The code's own checks come first, then the person.
        let gone = decide_code(&g, false, &presented(&c, 120)).unwrap_err();
        assert_eq!(gone, person_gone());
        let expired = decide_code(&g, false, &presented(&c, 160)).unwrap_err();
        assert_eq!(
            expired.error.description,
            "the authorization code has expired"
        );
    }

    #[test]
    fn a_refresh_decision_narrows_only_the_access_token() {
        let c = client(false);
        let g = grant();
        let rt = RefreshToken {
            grant_id: "g1".into(),
            tenant_id: "t".into(),
            client_id: "c1".into(),
            created_at: 100,
            expires_at: 10_000,
            consumed_at: None,
        };
        let mut p = presented(&c, 200);
        p.redirect_uri = None;
        p.code_verifier = None;
        let narrow = Scope::parse("openid").unwrap();
        let d = decide_refresh(&rt, &g, true, Some(&narrow), &p).unwrap();
        assert_eq!(d.scope.to_string(), "openid");
        // The successor is asked about the grant's full scope, which has
        // offline_access.
        assert_eq!(d.successor.map(|s| s.created_at), Some(200));
        let mut foreign = rt.clone();
        foreign.tenant_id = "t2".into();
        assert_eq!(
            decide_refresh(&foreign, &g, true, None, &p).unwrap_err(),
            unknown(Credential::RefreshToken)
        );
        assert_eq!(
            decide_refresh(&rt, &g, false, None, &p).unwrap_err(),
            person_gone()
        );
        let mut used = rt.clone();
        used.consumed_at = Some(150);
        let reuse = decide_refresh(&used, &g, true, None, &p).unwrap_err();
        assert_eq!(reuse.revoke_grant.as_deref(), Some("g1"));
    }

    #[test]
    fn a_lost_race_revokes_the_grant() {
        let lost = lost_race(&grant(), Credential::RefreshToken);
        assert_eq!(lost.revoke_grant.as_deref(), Some("g1"));
        assert_eq!(lost.error.code, ErrorCode::InvalidGrant);
        assert_eq!(
            lost.error.description,
            "the refresh token was already used; every token of this grant is now revoked"
        );
    }
}
