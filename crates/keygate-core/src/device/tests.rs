//! The device grant's rules, case by case (RFC 8628 3.1, 3.5, 6.1).

use super::*;
use crate::model::*;

fn client(grants: Vec<GrantType>, third_party: bool) -> Client {
    Client {
        id: "tv".into(),
        tenant_id: "t".into(),
        name: "TV".into(),
        public: true,
        secret_hash: None,
        auth_method: AuthMethod::None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: grants,
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
        require_mfa: false,
        third_party,
        registration_token_hash: None,
        first_used_at: None,
        jwks: None,
        jwks_uri: None,
        secret_sealed: None,
        require_dpop: false,
        require_par: false,
        exchange_audiences: Vec::new(),
        backchannel_logout_uri: None,
    }
}

fn pending() -> DeviceAuthorization {
    DeviceAuthorization {
        tenant_id: "t".into(),
        client_id: "tv".into(),
        scope: "openid offline_access".into(),
        resource: None,
        created_at: 1000,
        expires_at: 1600,
        interval: 5,
        last_polled_at: None,
        status: DeviceStatus::Pending,
        user_sub: None,
    }
}

fn code_of(p: &Poll) -> Option<ErrorCode> {
    p.error().map(|e| e.code)
}

#[test]
fn user_codes_use_the_alphabet_evenly() {
    let code = user_code_from([0u8, 1, 2, 3, 4, 5, 6, 19]).unwrap();
    assert_eq!(code, "BCDFGHJZ");
    // Bytes of 240 and up are skipped, never folded onto the first
    // characters (which would make them likelier).
    let code = user_code_from([240u8, 255, 20, 21, 22, 23, 24, 25, 26, 239]).unwrap();
    assert_eq!(code, "BCDFGHJZ");
    assert_eq!(user_code_from([250u8; 30]), None);
    assert_eq!(user_code_from([1u8; 7]), None);
    // Every character of the alphabet is reachable, and nothing else.
    let all: String = (0u8..240)
        .map(|b| USER_CODE_ALPHABET[usize::from(b % 20)] as char)
        .collect();
    for c in all.chars() {
        assert!(USER_CODE_ALPHABET.contains(&(c as u8)));
        assert!(!"AEIOUY0123456789".contains(c));
    }
}

#[test]
fn typed_codes_are_normalized() {
    for typed in [
        "BCDF-GHJK",
        "bcdfghjk",
        "bcdf-GHJK",
        " BCDF GHJK ",
        "BCDFGHJK",
    ] {
        assert_eq!(
            normalize_user_code(typed).as_deref(),
            Some("BCDFGHJK"),
            "{typed}"
        );
    }
    for bad in [
        "",
        "BCDF-GHJ",
        "BCDF-GHJKL",
        "ABCD-EFGH",
        "BCDF-GHJ0",
        "BCDF_GHJK",
        "ＢCDFGHJK",
        &"B".repeat(100),
    ] {
        assert_eq!(normalize_user_code(bad), None, "{bad}");
    }
    assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
}

#[test]
fn a_request_needs_the_grant_and_known_scopes() {
    let p = |q: &str| Params::from_urlencoded(q.as_bytes()).unwrap();
    let c = client(vec![GrantType::DeviceCode, GrantType::RefreshToken], false);
    let r = check_request(&p("scope=openid%20offline_access"), &c, None).unwrap();
    assert_eq!(r.scope.to_string(), "openid offline_access");
    assert_eq!(r.resource, None);
    assert_eq!(
        check_request(
            &p("scope=openid"),
            &client(vec![GrantType::AuthorizationCode], false),
            None
        )
        .unwrap_err()
        .code,
        ErrorCode::UnauthorizedClient
    );
    assert_eq!(
        check_request(&p("scope=openid%20admin"), &c, None)
            .unwrap_err()
            .code,
        ErrorCode::InvalidScope
    );
    // An API: its scopes become askable; an unknown one is invalid_target.
    let api = Api {
        tenant_id: "t".into(),
        identifier: "https://api.example.com".into(),
        name: "API".into(),
        scopes: vec!["read".into()],
        access_token_ttl: None,
        signing_alg: None,
        created_at: 0,
    };
    let q = "scope=openid%20read&resource=https%3A%2F%2Fapi.example.com";
    let r = check_request(&p(q), &c, Some(&api)).unwrap();
    assert_eq!(r.resource.as_deref(), Some("https://api.example.com"));
    assert_eq!(
        check_request(&p(q), &c, None).unwrap_err().code,
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        check_request(
            &p("scope=read&audience=https%3A%2F%2Fapi.example.com"),
            &c,
            Some(&api)
        )
        .unwrap()
        .scope
        .to_string(),
        "read"
    );
    assert_eq!(
        check_request(
            &p("resource=https%3A%2F%2Fa&audience=https%3A%2F%2Fb"),
            &c,
            None
        )
        .unwrap_err()
        .code,
        ErrorCode::InvalidTarget
    );
}

#[test]
fn polls_are_answered_per_rfc_8628_3_5() {
    let d = pending();
    // First poll, and polls at the interval: pending.
    assert_eq!(decide_poll(Some(&d), "t", "tv", 1001), Poll::Pending);
    let polled = DeviceAuthorization {
        last_polled_at: Some(1001),
        ..d.clone()
    };
    assert_eq!(decide_poll(Some(&polled), "t", "tv", 1006), Poll::Pending);
    assert_eq!(
        code_of(&Poll::Pending),
        Some(ErrorCode::AuthorizationPending)
    );
    // Sooner: slow_down, with the interval raised by 5 seconds.
    let p = decide_poll(Some(&polled), "t", "tv", 1005);
    assert_eq!(p, Poll::SlowDown { interval: 10 });
    assert_eq!(code_of(&p), Some(ErrorCode::SlowDown));
    let slowed = DeviceAuthorization {
        last_polled_at: Some(1005),
        interval: 10,
        ..d.clone()
    };
    assert_eq!(
        decide_poll(Some(&slowed), "t", "tv", 1014),
        Poll::SlowDown { interval: 15 }
    );
    assert_eq!(decide_poll(Some(&slowed), "t", "tv", 1015), Poll::Pending);
    // The interval stops growing at its maximum.
    let slowest = DeviceAuthorization {
        last_polled_at: Some(1005),
        interval: MAX_INTERVAL,
        ..d.clone()
    };
    assert_eq!(
        decide_poll(Some(&slowest), "t", "tv", 1006),
        Poll::SlowDown {
            interval: MAX_INTERVAL
        }
    );
    // Expired, whatever else: expired_token.
    assert_eq!(
        code_of(&decide_poll(Some(&d), "t", "tv", 1600)),
        Some(ErrorCode::ExpiredToken)
    );
    let late = DeviceAuthorization {
        status: DeviceStatus::Approved {
            grant_id: "g".into(),
        },
        ..d.clone()
    };
    assert_eq!(
        code_of(&decide_poll(Some(&late), "t", "tv", 1600)),
        Some(ErrorCode::ExpiredToken)
    );
    // Denied: access_denied, even when polled too fast.
    let denied = DeviceAuthorization {
        status: DeviceStatus::Denied,
        last_polled_at: Some(1001),
        ..d.clone()
    };
    assert_eq!(
        code_of(&decide_poll(Some(&denied), "t", "tv", 1002)),
        Some(ErrorCode::AccessDenied)
    );
    // Allowed: redeem its grant, even when polled too fast.
    let allowed = DeviceAuthorization {
        status: DeviceStatus::Approved {
            grant_id: "g".into(),
        },
        last_polled_at: Some(1001),
        ..d.clone()
    };
    assert_eq!(
        decide_poll(Some(&allowed), "t", "tv", 1002),
        Poll::Redeem {
            grant_id: "g".into()
        }
    );
    assert_eq!(
        Poll::Redeem {
            grant_id: "g".into()
        }
        .error(),
        None
    );
}

#[test]
fn another_clients_or_tenants_code_is_unknown() {
    let d = pending();
    for (tenant, client) in [("t", "other"), ("u", "tv")] {
        let p = decide_poll(Some(&d), tenant, client, 1001);
        assert_eq!(p, Poll::Refuse(unknown_device_code()));
    }
    // Even once allowed or denied, and after expiry: nothing is revealed.
    let allowed = DeviceAuthorization {
        status: DeviceStatus::Approved {
            grant_id: "g".into(),
        },
        ..d.clone()
    };
    assert_eq!(
        decide_poll(Some(&allowed), "t", "other", 2000),
        Poll::Refuse(unknown_device_code())
    );
    assert_eq!(
        decide_poll(None, "t", "tv", 1001),
        Poll::Refuse(unknown_device_code())
    );
    assert_eq!(unknown_device_code().code, ErrorCode::InvalidGrant);
}

#[test]
fn only_live_pending_requests_of_the_door_can_be_answered() {
    let d = pending();
    assert!(answerable(&d, "t", 1599));
    assert!(!answerable(&d, "t", 1600));
    assert!(!answerable(&d, "u", 1001));
    let denied = DeviceAuthorization {
        status: DeviceStatus::Denied,
        ..d.clone()
    };
    assert!(!answerable(&denied, "t", 1001));
    let allowed = DeviceAuthorization {
        status: DeviceStatus::Approved {
            grant_id: "g".into(),
        },
        ..d
    };
    assert!(!answerable(&allowed, "t", 1001));
}

#[test]
fn third_party_clients_keep_the_consent_given_on_the_device_page() {
    let d = DeviceAuthorization {
        scope: "openid email".into(),
        ..pending()
    };
    assert_eq!(
        consent_to_store(
            &client(vec![GrantType::DeviceCode], false),
            &d,
            "u",
            None,
            5
        ),
        None
    );
    let earlier = Consent {
        tenant_id: "t".into(),
        user_sub: "u".into(),
        client_id: "tv".into(),
        resource: String::new(),
        scopes: vec!["profile".into(), "openid".into()],
        granted_at: 1,
    };
    let c = consent_to_store(
        &client(vec![GrantType::DeviceCode], true),
        &d,
        "u",
        Some(&earlier),
        5,
    )
    .unwrap();
    assert_eq!(c.scopes, vec!["profile", "openid", "email"]);
    assert_eq!(c.resource, "");
    assert_eq!(c.granted_at, 5);
    let with_api = DeviceAuthorization {
        resource: Some("https://api.example.com".into()),
        ..d
    };
    let c = consent_to_store(
        &client(vec![GrantType::DeviceCode], true),
        &with_api,
        "u",
        None,
        5,
    )
    .unwrap();
    assert_eq!(c.resource, "https://api.example.com");
    assert_eq!(c.scopes, vec!["openid", "email"]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Whatever a person types: no panic, and a normalized code is always
    /// 8 characters of the alphabet that normalizes to itself.
    #[test]
    fn typed_codes_never_panic(typed in ".{0,80}") {
        if let Some(code) = normalize_user_code(&typed) {
            proptest::prop_assert_eq!(code.len(), USER_CODE_LEN);
            proptest::prop_assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            proptest::prop_assert_eq!(normalize_user_code(&display_user_code(&code)), Some(code.clone()));
            proptest::prop_assert_eq!(normalize_user_code(&code.to_lowercase()), Some(code));
        }
    }

    /// Every drawn code is a valid one.
    #[test]
    fn drawn_codes_are_valid(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        if let Some(code) = user_code_from(bytes) {
            proptest::prop_assert_eq!(normalize_user_code(&code), Some(code));
        }
    }
}
