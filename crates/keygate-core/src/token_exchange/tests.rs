//! One case per rule of RFC 8693 2 as Keygate applies it.

use super::*;
use crate::model::*;

const ISS: &str = "https://id.example.com/acme/as";
const NOW: i64 = 1_000_000;
const ORDERS: &str = "https://orders.example.com";
const LEGACY: &str = "https://legacy.example.com";

fn client() -> Client {
    let mut c = Client::example();
    c.id = "svc".into();
    c.public = false;
    c.auth_method = AuthMethod::ClientSecretBasic;
    c.grant_types = vec![GrantType::TokenExchange];
    c.exchange_audiences = vec![ORDERS.into(), LEGACY.into()];
    c
}

fn api() -> Api {
    Api {
        tenant_id: "acme".into(),
        identifier: ORDERS.into(),
        name: "Orders".into(),
        scopes: vec!["orders:read".into(), "orders:write".into()],
        access_token_ttl: Some(300),
        signing_alg: None,
        created_at: 0,
    }
}

fn token(sub: &str, client_id: &str, scope: &str) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        sub: sub.into(),
        aud: client_id.into(),
        client_id: client_id.into(),
        scope: scope.into(),
        exp: NOW + 600,
        iat: NOW - 10,
        jti: "grant1.random".into(),
        auth_time: Some(NOW - 100),
        userinfo_claims: String::new(),
        act: None,
        cnf: None,
    }
}

fn subject() -> AccessTokenClaims {
    token("ann", "web", "openid email orders:read orders:write")
}

fn presented<'a>(
    client: &'a Client,
    subject: &'a AccessTokenClaims,
    api: Option<&'a Api>,
) -> Presented<'a> {
    Presented {
        client,
        issuer: ISS,
        subject: Ok(subject),
        actor: None,
        target: Some(ORDERS),
        api,
        scope: None,
        now: NOW,
        dpop_jkt: None,
    }
}

fn code(r: Result<Exchanged, OAuthError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    }
}

fn params(q: &str) -> Params {
    Params::from_urlencoded(q.as_bytes()).unwrap()
}

const AT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token";

#[test]
fn the_request_names_a_subject_token_of_a_supported_type() {
    let ok = ExchangeRequest::parse(&params(&format!(
        "subject_token=t&subject_token_type={AT}&scope=orders%3Aread"
    )))
    .unwrap();
    assert_eq!(ok.subject_token, "t");
    assert_eq!(ok.actor_token, None);
    assert_eq!(ok.scope.unwrap().to_string(), "orders:read");
    let with_actor = ExchangeRequest::parse(&params(&format!(
        "subject_token=t&subject_token_type={AT}&actor_token=a&actor_token_type={AT}&requested_token_type={AT}"
    )))
    .unwrap();
    assert_eq!(with_actor.actor_token.as_deref(), Some("a"));

    let refused = [
        (format!("subject_token_type={AT}"), "subject_token"),
        ("subject_token=t".to_string(), "subject_token_type"),
        (
            "subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token".into(),
            "refresh tokens are not exchanged",
        ),
        (
            "subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token".into(),
            "id_tokens are not exchanged",
        ),
        (
            "subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Asaml2".into(),
            "only access tokens",
        ),
        (
            format!("subject_token=t&subject_token_type={AT}&actor_token=a"),
            "actor_token_type is required",
        ),
        (
            format!("subject_token=t&subject_token_type={AT}&actor_token_type={AT}"),
            "without actor_token",
        ),
        (
            format!("subject_token=t&subject_token_type={AT}&actor_token=a&actor_token_type=x"),
            "actor_token_type 'x' is not supported",
        ),
        (
            format!("subject_token=t&subject_token_type={AT}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token"),
            "only access tokens are issued",
        ),
    ];
    for (q, says) in refused {
        let e = ExchangeRequest::parse(&params(&q)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{q}");
        assert!(e.description.contains(says), "{q}: {}", e.description);
    }
    assert_eq!(
        ExchangeRequest::parse(&params(&format!(
            "subject_token=t&subject_token_type={AT}&scope=a%22b"
        )))
        .unwrap_err()
        .code,
        ErrorCode::InvalidScope
    );
}

#[test]
fn impersonation_keeps_the_subject_and_narrows_to_the_api() {
    let (c, s, a) = (client(), subject(), api());
    let out = decide(&presented(&c, &s, Some(&a))).unwrap();
    assert_eq!(out.sub, "ann");
    assert_eq!(out.audience, ORDERS);
    assert_eq!(out.scope.to_string(), "orders:read orders:write");
    assert_eq!(out.act, None, "no actor: an impersonation");
    assert_eq!(out.grant_id.as_deref(), Some("grant1"));
    assert_eq!(out.auth_time, Some(NOW - 100));
    assert_eq!(out.not_after, NOW + 600, "never outlives the subject token");
}

#[test]
fn a_target_that_is_no_api_keeps_the_subject_scope() {
    let (c, s) = (client(), subject());
    let mut p = presented(&c, &s, None);
    p.target = Some(LEGACY);
    let out = decide(&p).unwrap();
    assert_eq!(out.audience, LEGACY);
    assert_eq!(
        out.scope.to_string(),
        "openid email orders:read orders:write"
    );
    // An API found for another identifier is not this target's.
    let a = api();
    p.api = Some(&a);
    assert_eq!(
        decide(&p).unwrap().scope.to_string(),
        "openid email orders:read orders:write"
    );
}

#[test]
fn the_scope_asked_for_is_within_the_subject_tokens() {
    let (c, s, a) = (client(), subject(), api());
    let ask = |scope: &str, api: Option<&Api>| {
        let scope = Scope::parse(scope).unwrap();
        let mut p = presented(&c, &s, api);
        p.scope = Some(&scope);
        decide(&p).map(|e| e.scope.to_string())
    };
    assert_eq!(ask("orders:read", Some(&a)).unwrap(), "orders:read");
    assert_eq!(
        ask("", Some(&a)).unwrap(),
        "orders:read orders:write",
        "empty is none"
    );
    let wider = ask("orders:read orders:admin", Some(&a)).unwrap_err();
    assert_eq!(wider.code, ErrorCode::InvalidScope);
    assert!(
        wider.description.contains("orders:admin"),
        "{}",
        wider.description
    );
    assert!(
        wider.description.contains("never widens"),
        "{}",
        wider.description
    );
    let not_the_apis = ask("email", Some(&a)).unwrap_err();
    assert_eq!(not_the_apis.code, ErrorCode::InvalidScope);
    assert!(not_the_apis.description.contains("not defined by the API"));
    assert_eq!(ask("email", None).unwrap(), "email");
    assert_eq!(
        ask("profile", None).unwrap_err().code,
        ErrorCode::InvalidScope
    );
    // A subject token with no scope of the API gives nothing for it.
    let bare = token("ann", "web", "openid email");
    let e = decide(&presented(&c, &bare, Some(&a))).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidScope);
    assert!(
        e.description.contains("carries no scope"),
        "{}",
        e.description
    );
}

#[test]
fn delegation_names_the_actor_and_nests_prior_ones() {
    let (c, a) = (client(), api());
    let s = subject();
    let actor = token("svc", "svc", "");
    let mut p = presented(&c, &s, Some(&a));
    p.actor = Some(Ok(&actor));
    let out = decide(&p).unwrap();
    assert_eq!(out.sub, "ann");
    assert_eq!(
        out.act,
        Some(Actor {
            sub: "svc".into(),
            act: None
        })
    );
    // The subject was itself delegated: the new actor is outermost.
    let mut delegated = subject();
    delegated.act = Some(Actor {
        sub: "gateway".into(),
        act: None,
    });
    let mut p = presented(&c, &delegated, Some(&a));
    p.actor = Some(Ok(&actor));
    assert_eq!(
        decide(&p).unwrap().act,
        Some(Actor {
            sub: "svc".into(),
            act: Some(Box::new(Actor {
                sub: "gateway".into(),
                act: None
            }))
        })
    );
    // Impersonating a delegated token keeps its actors: nothing is erased.
    let p = presented(&c, &delegated, Some(&a));
    assert_eq!(decide(&p).unwrap().act, delegated.act);
}

#[test]
fn the_chain_of_actors_is_bounded() {
    let (c, a) = (client(), api());
    let actor = token("svc", "svc", "");
    let mut s = subject();
    for i in 0..MAX_ACTORS - 1 {
        s.act = Some(Actor {
            sub: format!("a{i}"),
            act: s.act.take().map(Box::new),
        });
    }
    let mut p = presented(&c, &s, Some(&a));
    p.actor = Some(Ok(&actor));
    assert_eq!(actors(decide(&p).unwrap().act.as_ref()), MAX_ACTORS);
    s.act = Some(Actor {
        sub: "one-more".into(),
        act: s.act.take().map(Box::new),
    });
    let mut p = presented(&c, &s, Some(&a));
    p.actor = Some(Ok(&actor));
    let e = decide(&p).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(
        e.description.contains("more than 5 actors"),
        "{}",
        e.description
    );
}

#[test]
fn the_actor_token_is_the_calling_clients() {
    let (c, s, a) = (client(), subject(), api());
    let foreign = token("other", "other", "");
    let mut p = presented(&c, &s, Some(&a));
    p.actor = Some(Ok(&foreign));
    let e = decide(&p).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(
        e.description.contains("another client"),
        "{}",
        e.description
    );
    // A person's token issued to this client is a good actor too.
    let person = token("bob", "svc", "openid");
    p.actor = Some(Ok(&person));
    assert_eq!(decide(&p).unwrap().act.unwrap().sub, "bob");
}

#[test]
fn unusable_tokens_are_invalid_requests() {
    let (c, s, a) = (client(), subject(), api());
    for why in [
        Unusable::Malformed,
        Unusable::Unsupported,
        Unusable::BadSignature,
        Unusable::WrongIssuer,
        Unusable::Expired,
        Unusable::Revoked,
    ] {
        let mut p = presented(&c, &s, Some(&a));
        p.subject = Err(why);
        let e = decide(&p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{why:?}");
        assert!(e
            .description
            .starts_with("the subject_token is not usable: "));
        assert!(e.description.contains(why.describe()));
        let mut p = presented(&c, &s, Some(&a));
        p.actor = Some(Err(why));
        let e = decide(&p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{why:?}");
        assert!(e.description.starts_with("the actor_token is not usable: "));
    }
    // The claims themselves are checked again: issuer and expiry.
    let mut expired = subject();
    expired.exp = NOW;
    let e = decide(&presented(&c, &expired, Some(&a))).unwrap_err();
    assert!(e.description.contains("expired"), "{}", e.description);
    let mut foreign = subject();
    foreign.iss = "https://id.example.com/other/as".into();
    let e = decide(&presented(&c, &foreign, Some(&a))).unwrap_err();
    assert!(
        e.description.contains("another issuer"),
        "{}",
        e.description
    );
}

#[test]
fn only_registered_audiences_are_targets() {
    let (c, s, a) = (client(), subject(), api());
    let mut p = presented(&c, &s, Some(&a));
    p.target = Some("https://elsewhere.example.com");
    let e = decide(&p).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidTarget);
    assert!(e.description.contains("https://elsewhere.example.com"));
    p.target = None;
    let e = decide(&p).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("audience or resource"));
    // An audience is matched exactly.
    p.target = Some("https://orders.example.com/");
    assert_eq!(code(decide(&p)), "invalid_target");
}

#[test]
fn only_confidential_clients_allowed_the_grant_exchange() {
    let (s, a) = (subject(), api());
    let mut public = client();
    public.public = true;
    public.auth_method = AuthMethod::None;
    let e = decide(&presented(&public, &s, Some(&a))).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnauthorizedClient);
    assert!(e.description.contains("public"));
    let mut without = client();
    without.grant_types = vec![GrantType::ClientCredentials];
    assert_eq!(
        code(decide(&presented(&without, &s, Some(&a)))),
        "unauthorized_client"
    );
    // The client is checked first: an unusable token tells it nothing.
    let mut p = presented(&without, &s, Some(&a));
    p.subject = Err(Unusable::Revoked);
    assert_eq!(code(decide(&p)), "unauthorized_client");
}

#[test]
fn a_client_credentials_subject_has_no_grant() {
    let (c, a) = (client(), api());
    let mut s = token("web", "web", "orders:read");
    s.jti = "random".into();
    s.auth_time = None;
    let out = decide(&presented(&c, &s, Some(&a))).unwrap();
    assert_eq!(out.sub, "web");
    assert_eq!(out.grant_id, None);
    assert_eq!(out.auth_time, None);
}

#[test]
fn a_dpop_bound_token_is_exchanged_only_with_a_proof_by_its_key() {
    let client = client();
    let mut bound = subject();
    bound.cnf = Some(crate::claims::Confirmation {
        jkt: "key-a".into(),
    });
    for proof in [None, Some("key-b")] {
        let mut p = presented(&client, &bound, None);
        p.dpop_jkt = proof;
        let e = decide(&p).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request", "{proof:?}");
        assert!(e.description.contains("DPoP"), "{}", e.description);
    }
    let mut p = presented(&client, &bound, None);
    p.dpop_jkt = Some("key-a");
    assert!(decide(&p).is_ok());
    // An unbound token needs no proof (and may be exchanged with one).
    let plain = subject();
    assert!(decide(&presented(&client, &plain, None)).is_ok());
}
