//! HTTP Basic client credentials.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = keygate_core::basic::decode_basic(s);
    }
});
