//! The authorization request query.
#![no_main]
use keygate_core::authorize;
use keygate_core::model::*;
use keygate_core::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let client = Client {
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
        refresh_token_max_ttl: DEFAULT_REFRESH_TOKEN_MAX_TTL,
        journeys_api: false,
        web_origins: vec![],
        signing_alg: SigningAlg::RS256,
        pkce: PkcePolicy::S256,
        created_at: 0,
        token_rate_limit: None,
    };
    if let Ok(p) = Params::from_urlencoded(data) {
        let _ = authorize::validate(&p, Some(&client));
    }
});
