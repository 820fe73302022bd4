//! Property tests: JWT parsing (as userinfo and introspection do it) never
//! panics and never accepts a token it did not sign.

use keygate_crypto::jws;
use keygate_crypto::keys::{Alg, SigningKey, VerifyingKey};
use proptest::prelude::*;
use std::sync::OnceLock;

fn key() -> &'static (SigningKey, VerifyingKey) {
    static K: OnceLock<(SigningKey, VerifyingKey)> = OnceLock::new();
    K.get_or_init(|| {
        let (k, _) = SigningKey::generate(Alg::ES256, "k1".into()).unwrap();
        let v = VerifyingKey::from_jwk(&k.public_jwk()).unwrap();
        (k, v)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_text_is_refused_without_panic(s in any::<String>()) {
        let (_, v) = key();
        let refused = jws::verify::<serde_json::Value>(&s, std::slice::from_ref(v)).is_err();
        prop_assert!(refused);
        let _ = jws::peek_header(&s);
    }

    #[test]
    fn three_base64_parts_are_refused(a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,60}", c in "[A-Za-z0-9_-]{0,90}") {
        let (_, v) = key();
        let token = format!("{a}.{b}.{c}");
        let refused = jws::verify::<serde_json::Value>(&token, std::slice::from_ref(v)).is_err();
        prop_assert!(refused);
    }

    #[test]
    fn any_change_to_a_signed_token_is_refused(pos in 0usize..200, ch in "[A-Za-z0-9_.-]") {
        let (k, v) = key();
        let t = jws::sign(k, "at+jwt", &serde_json::json!({"sub": "s", "scope": "openid"})).unwrap();
        let pos = pos % t.len();
        let mut changed = t.clone();
        changed.replace_range(pos..pos + 1, &ch);
        if changed != t {
            let refused = jws::verify::<serde_json::Value>(&changed, std::slice::from_ref(v)).is_err();
            prop_assert!(refused);
        }
    }
}
