//! The exchange decisions, case by case.

use super::*;
use crate::model::*;
use crate::pkce::{s256_challenge, CodeChallengeMethod};

const V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn client(public: bool) -> Client {
    Client {
        public,
        secret_hash: None,
        auth_method: if public {
            AuthMethod::None
        } else {
            AuthMethod::ClientSecretBasic
        },
        redirect_uris: vec!["https://app/cb".into(), "https://app/other".into()],
        grant_types: GrantType::ALL.to_vec(),
        id_token_ttl: 10,
        access_token_ttl: 10,
        ..Client::example()
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
        amr: vec!["pwd".into()],
        acr: None,
        resource: None,
        claims: Default::default(),
        session: None,
        dpop_jkt: None,
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
    assert!(check_refresh(&rt(), &g, &c, None, Some("https://app/other"), Some(V), 200).is_ok());
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
        resource: None,
        now,
        dpop_jkt: None,
    }
}

#[test]
fn a_token_request_may_name_only_its_grants_resource() {
    let c = client(true);
    let mut g = grant();
    let asking = |r| Presented {
        resource: r,
        ..presented(&c, 120)
    };
    // A grant for the client itself: naming any API is refused.
    let e = decide_code(&g, true, &asking(Some("https://api.example/"))).unwrap_err();
    assert_eq!(
        (e.error.code, e.revoke_grant),
        (crate::ErrorCode::InvalidTarget, None)
    );
    // A grant for an API: naming it (or nothing) is fine; another is not.
    g.resource = Some("https://api.example/".into());
    assert!(decide_code(&g, true, &asking(Some("https://api.example/"))).is_ok());
    assert!(decide_code(&g, true, &asking(None)).is_ok());
    let e = decide_code(&g, true, &asking(Some("https://other.example/"))).unwrap_err();
    assert_eq!(e.error.code, crate::ErrorCode::InvalidTarget);
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

#[test]
fn dpop_binding_of_codes_and_refresh_tokens() {
    let proof = |c: &'static Client, k: Option<&'static str>| Presented {
        dpop_jkt: k,
        ..presented(c, 120)
    };
    let public: &'static Client = Box::leak(Box::new(client(true)));
    let confidential: &'static Client = Box::leak(Box::new(client(false)));
    let g = grant();
    // A public client's first proof binds the grant; a confidential
    // client's does not.
    let d = decide_code(&g, true, &proof(public, Some("k1"))).unwrap();
    assert_eq!(
        d.bind_dpop,
        Some(DpopBinding {
            grant_id: "g1".into(),
            jkt: "k1".into()
        })
    );
    let d = decide_code(&g, true, &proof(confidential, Some("k1"))).unwrap();
    assert_eq!(d.bind_dpop, None);
    assert_eq!(
        decide_code(&g, true, &proof(public, None))
            .unwrap()
            .bind_dpop,
        None
    );
    // A code bound at /authorize (dpop_jkt) needs a proof by its key, for
    // every client; the refusal revokes nothing.
    let mut bound = grant();
    bound.dpop_jkt = Some("k1".into());
    for c in [public, confidential] {
        let d = decide_code(&bound, true, &proof(c, Some("k1"))).unwrap();
        assert_eq!(d.bind_dpop, None, "already bound");
        for k in [None, Some("k2")] {
            let e = decide_code(&bound, true, &proof(c, k)).unwrap_err();
            assert_eq!(
                (e.error.code, e.revoke_grant),
                (ErrorCode::InvalidGrant, None)
            );
        }
    }
    // Refresh: a public client's bound grant needs the same key.
    let rt = RefreshToken {
        grant_id: "g1".into(),
        tenant_id: "t".into(),
        client_id: "c1".into(),
        created_at: 100,
        expires_at: 10_000,
        consumed_at: None,
    };
    let refresh = |c: &'static Client, g: &Grant, k| {
        let mut p = proof(c, k);
        p.redirect_uri = None;
        p.code_verifier = None;
        decide_refresh(&rt, g, true, None, &p)
    };
    assert!(refresh(public, &bound, Some("k1")).is_ok());
    for k in [None, Some("k2")] {
        let e = refresh(public, &bound, k).unwrap_err();
        assert_eq!(
            (e.error.code, e.revoke_grant),
            (ErrorCode::InvalidGrant, None)
        );
        assert!(e.error.description.contains("refresh token"));
    }
    // Confidential clients' refresh tokens are not bound.
    for k in [None, Some("k1"), Some("k2")] {
        assert_eq!(refresh(confidential, &bound, k).unwrap().bind_dpop, None);
    }
    // A public client's first proof on an unbound grant binds it.
    assert_eq!(
        refresh(public, &g, Some("k3")).unwrap().bind_dpop,
        Some(DpopBinding {
            grant_id: "g1".into(),
            jkt: "k3".into()
        })
    );
    assert_eq!(refresh(public, &g, None).unwrap().bind_dpop, None);
    assert_eq!(
        refresh(confidential, &g, Some("k3")).unwrap().bind_dpop,
        None
    );
}

#[test]
fn a_device_grant_is_redeemed_once_by_its_client() {
    let c = client(true);
    // The grant made at approval: no redirect URI, no PKCE.
    let g = Grant {
        redirect_uri: String::new(),
        redirect_uri_sent: false,
        code_challenge: None,
        code_challenge_method: None,
        ..grant()
    };
    let d = decide_device(&g, true, &presented(&c, 120)).unwrap();
    assert_eq!(d.scope.to_string(), "openid email offline_access");
    assert!(
        d.successor.is_some(),
        "offline_access gives a refresh token"
    );
    let mut online = g.clone();
    online.scope = "openid".into();
    assert_eq!(
        decide_device(&online, true, &presented(&c, 120))
            .unwrap()
            .successor,
        None
    );
    // Another client's or tenant's: unknown, in the device code's words.
    let mut other = c.clone();
    other.id = "c2".into();
    let refused = decide_device(&g, true, &presented(&other, 120)).unwrap_err();
    assert_eq!(refused, unknown(Credential::DeviceCode));
    assert_eq!(refused.error.description, "the device code is not valid");
    let mut foreign = g.clone();
    foreign.tenant_id = "t2".into();
    assert_eq!(
        decide_device(&foreign, true, &presented(&c, 120)).unwrap_err(),
        unknown(Credential::DeviceCode)
    );
    // Redeemed before: refused, and the grant revoked.
    let mut used = g.clone();
    used.code_consumed_at = Some(110);
    let refused = decide_device(&used, true, &presented(&c, 120)).unwrap_err();
    assert_eq!(
        (refused.error.code, refused.revoke_grant.as_deref()),
        (ErrorCode::InvalidGrant, Some("g1"))
    );
    // Revoked, expired, another API, the person gone.
    let mut revoked = g.clone();
    revoked.revoked_at = Some(110);
    assert_eq!(
        decide_device(&revoked, true, &presented(&c, 120))
            .unwrap_err()
            .error
            .code,
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        decide_device(&g, true, &presented(&c, 160))
            .unwrap_err()
            .error
            .code,
        ErrorCode::ExpiredToken
    );
    let mut elsewhere = presented(&c, 120);
    elsewhere.resource = Some("https://api.example/");
    assert_eq!(
        decide_device(&g, true, &elsewhere).unwrap_err().error.code,
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        decide_device(&g, false, &presented(&c, 120)).unwrap_err(),
        person_gone()
    );
    // A lost race is told in the device code's words.
    assert_eq!(
        lost_race(&g, Credential::DeviceCode).error.description,
        "the device code was already used; every token of this grant is now revoked"
    );
}

#[test]
fn a_public_clients_device_grant_is_bound_to_its_first_proof() {
    let public = client(true);
    let g = Grant {
        redirect_uri: String::new(),
        redirect_uri_sent: false,
        code_challenge: None,
        code_challenge_method: None,
        ..grant()
    };
    let with = |c, k| Presented {
        dpop_jkt: k,
        ..presented(c, 120)
    };
    assert_eq!(
        decide_device(&g, true, &with(&public, Some("k1")))
            .unwrap()
            .bind_dpop,
        Some(DpopBinding {
            grant_id: "g1".into(),
            jkt: "k1".into()
        })
    );
    assert_eq!(
        decide_device(&g, true, &with(&public, None))
            .unwrap()
            .bind_dpop,
        None
    );
    let confidential = client(false);
    assert_eq!(
        decide_device(&g, true, &with(&confidential, Some("k1")))
            .unwrap()
            .bind_dpop,
        None
    );
}
