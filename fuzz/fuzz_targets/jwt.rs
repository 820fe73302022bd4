//! JWT parsing as userinfo and introspection do it.
#![no_main]
use keygate_crypto::jws;
use keygate_crypto::keys::{Alg, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static VerifyingKey {
    static K: OnceLock<VerifyingKey> = OnceLock::new();
    K.get_or_init(|| {
        let (k, _) = SigningKey::generate(Alg::ES256, "k1".into()).unwrap();
        VerifyingKey::from_jwk(&k.public_jwk()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(jws::verify::<serde_json::Value>(s, std::slice::from_ref(key())).is_err());
    }
});
