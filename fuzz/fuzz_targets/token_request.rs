//! The token request decoder, form and JSON.
#![no_main]
use keygate_core::params::Params;
use keygate_core::token_request::TokenRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for p in [Params::from_urlencoded(data), Params::from_json(data)].into_iter().flatten() {
        let _ = TokenRequest::parse(&p);
    }
});
