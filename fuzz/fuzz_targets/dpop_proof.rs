//! DPoP proofs (RFC 9449) as the token endpoint and userinfo check them:
//! the header's key and the signature verified for real.
#![no_main]
use keygate_core::dpop::{check, Expected};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let expected = Expected {
            method: "POST",
            uris: &["https://id.example/t/as/token"],
            now: 1_700_000_000,
            nonce_required: false,
            nonces: &[],
            access_token: Some("at"),
        };
        // Without a private key no input can make a proof that verifies.
        assert!(check(s, &expected, keygate_crypto::thumbprint::verify_with_jwk).is_err());
    }
});
