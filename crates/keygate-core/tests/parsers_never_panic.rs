//! Property tests: the decoders that face hostile input return a value or
//! a protocol error for every input, never a panic.

use keygate_core::authorize;
use keygate_core::basic::decode_basic;
use keygate_core::model::*;
use keygate_core::params::Params;
use keygate_core::token_request::TokenRequest;
use proptest::prelude::*;

fn client() -> Client {
    Client {
        id: "c1".into(),
        tenant_id: "t".into(),
        name: "n".into(),
        public: true,
        secret_hash: None,
        auth_method: AuthMethod::None,
        redirect_uris: vec!["https://app/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: GrantType::ALL.to_vec(),
        refresh_policy: RefreshPolicy::Always,
        id_token_ttl: 1,
        access_token_ttl: 1,
        refresh_token_max_ttl: keygate_core::model::DEFAULT_REFRESH_TOKEN_MAX_TTL,
        journeys_api: true,
        web_origins: vec![],
        signing_alg: SigningAlg::RS256,
        pkce: PkcePolicy::S256,
        created_at: 0,
        token_rate_limit: None,
        require_mfa: false,
        third_party: false,
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

/// Parameter names the decoders care about, mixed with noise.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("grant_type".to_string()),
        Just("code".to_string()),
        Just("redirect_uri".to_string()),
        Just("client_id".to_string()),
        Just("code_verifier".to_string()),
        Just("code_challenge".to_string()),
        Just("code_challenge_method".to_string()),
        Just("response_type".to_string()),
        Just("scope".to_string()),
        Just("prompt".to_string()),
        Just("max_age".to_string()),
        Just("refresh_token".to_string()),
        Just("state".to_string()),
        Just("claims".to_string()),
        Just("response_mode".to_string()),
        Just("subject_token".to_string()),
        Just("subject_token_type".to_string()),
        Just("actor_token".to_string()),
        Just("actor_token_type".to_string()),
        Just("requested_token_type".to_string()),
        "[a-z_]{1,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization_code".to_string()),
        Just("refresh_token".to_string()),
        Just("client_credentials".to_string()),
        Just("urn:ietf:params:oauth:grant-type:token-exchange".to_string()),
        Just("urn:ietf:params:oauth:token-type:access_token".to_string()),
        Just("form_post".to_string()),
        Just("code".to_string()),
        Just("c1".to_string()),
        Just("https://app/cb".to_string()),
        Just("S256".to_string()),
        Just("openid offline_access".to_string()),
        Just("none login".to_string()),
        Just(r#"{"id_token":{"acr":{"essential":true,"values":["mfa"]}}}"#.to_string()),
        "[ -~]{0,80}",
        any::<String>(),
    ]
}

/// JSON values shaped like a `claims` parameter, with noise.
fn claims_json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        "[a-z_]{0,8}".prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
    ];
    let tree = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id_token".to_string()),
                    Just("userinfo".to_string()),
                    Just("email".to_string()),
                    Just("acr".to_string()),
                    Just("essential".to_string()),
                    Just("values".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..4,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    tree.prop_map(|v| v.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn form_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Params::from_urlencoded(&bytes);
    }

    #[test]
    fn json_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Params::from_json(&bytes);
    }

    #[test]
    fn json_objects_of_strings_decode(pairs in proptest::collection::btree_map("[a-z_]{1,10}", "[ -~]{0,40}", 0..8)) {
        let text = serde_json::to_string(&pairs).unwrap();
        let p = Params::from_json(text.as_bytes()).unwrap();
        for (k, v) in &pairs {
            prop_assert_eq!(p.get(k), if v.is_empty() { None } else { Some(v.as_str()) });
        }
    }

    #[test]
    fn form_round_trips(pairs in proptest::collection::btree_map("[a-z_]{1,10}", any::<String>(), 0..8)) {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let p = Params::from_urlencoded(encoded.as_bytes()).unwrap();
        for (k, v) in &pairs {
            prop_assert_eq!(p.get(k), if v.is_empty() { None } else { Some(v.as_str()) });
        }
    }

    #[test]
    fn basic_header_never_panics(s in any::<String>()) {
        let _ = decode_basic(&s);
        let _ = decode_basic(&format!("Basic {s}"));
    }

    #[test]
    fn basic_header_round_trips(id in "[^\\x00]{1,40}", secret in any::<String>()) {
        let h = keygate_core::basic::encode_basic(&id, &secret);
        prop_assert_eq!(decode_basic(&h).unwrap(), Some((id, secret)));
    }

    #[test]
    fn claims_parameters_never_panic(s in any::<String>(), json in claims_json()) {
        let _ = keygate_core::claims_request::parse(Some(&s));
        if let Ok(p) = keygate_core::claims_request::parse(Some(&json)) {
            for c in p.claims.id_token.iter().chain(&p.claims.userinfo) {
                prop_assert!(keygate_core::claims_request::RELEASABLE.contains(&c.as_str()));
            }
            let stored = p.claims.to_stored();
            prop_assert_eq!(keygate_core::claims_request::RequestedClaims::from_stored(&stored), p.claims);
        }
    }

    #[test]
    fn token_requests_never_panic(pairs in proptest::collection::vec((name(), value()), 0..8)) {
        if let Ok(p) = Params::from_pairs(pairs) {
            let _ = TokenRequest::parse(&p);
        }
    }

    #[test]
    fn dpop_proofs_never_panic(s in any::<String>(), header in claims_json(), claims in claims_json()) {
        use base64::Engine;
        let b64 = |t: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
        let expected = keygate_core::dpop::Expected {
            method: "POST",
            uris: &["https://id.example/t/as/token"],
            now: 1_700_000_000,
            nonce_required: true,
            nonces: &["n"],
            access_token: Some("at"),
        };
        // Whatever the verifier says, arbitrary text and arbitrary JSON
        // parts are refused with a reason, never a panic.
        let _ = keygate_core::dpop::check(&s, &expected, |_, _, _, _| Some("k".into()));
        let jwt = format!("{}.{}.{}", b64(&header), b64(&claims), b64(&s));
        prop_assert!(keygate_core::dpop::check(&jwt, &expected, |_, _, _, _| Some("k".into())).is_err());
        prop_assert!(keygate_core::dpop::check(&jwt, &expected, |_, _, _, _| None).is_err());
    }

    #[test]
    fn authorize_queries_never_panic(pairs in proptest::collection::vec((name(), value()), 0..10)) {
        if let Ok(p) = Params::from_pairs(pairs) {
            let c = client();
            let r = authorize::validate(&p, Some(&c), None);
            // An error is either a page or a redirect to the one registered URI.
            if let Err(authorize::AuthorizeError::Redirect(e)) = &r {
                prop_assert_eq!(e.redirect_uri.as_str(), "https://app/cb");
            }
            if let Ok(req) = r {
                prop_assert_eq!(req.redirect_uri.as_str(), "https://app/cb");
                prop_assert!(req.code_challenge.is_some(), "public clients always carry PKCE");
            }
        }
    }
}
