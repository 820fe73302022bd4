//! The device authorization grant (RFC 8628) as the server does it: the
//! codes it draws and how it hashes them, shared by the device
//! authorization endpoint (`endpoints/device_authorization.rs`), the
//! device page (`pages/device.rs`) and the token endpoint's grant
//! (`endpoints/token/device_code.rs`). The rules are `keygate_core::device`.

use crate::AppState;
use keygate_core::device::{normalize_user_code, user_code_from};
use keygate_crypto::secrets;

/// The purpose of the key user codes are hashed under.
const USER_CODE_PURPOSE: &str = "keygate device user code";

/// The stored hash of a device code: its SHA-256 (256 random bits, so a
/// fast hash is right, as for authorization codes).
pub(crate) fn device_code_hash(device_code: &str) -> String {
    secrets::sha256_hex(device_code)
}

/// The hash the code of the grant made at approval is stored under. It is
/// not of the hex form an authorization code's SHA-256 has, so no value
/// sent as `code` to the authorization_code grant can ever find it: only
/// the device code's poll redeems it.
pub(crate) fn grant_code_hash(device_hash: &str) -> String {
    format!("device:{device_hash}")
}

/// A new user code (normalized: 8 characters of the alphabet, no dash).
pub(crate) fn new_user_code() -> String {
    loop {
        if let Some(code) = user_code_from(secrets::random_bytes(16)) {
            return code;
        }
    }
}

/// The stored hash of a (normalized) user code: keyed by a key derived
/// from the master key, since the space of user codes is small enough to
/// hash in full (RFC 8628 5.1, 5.2).
pub(crate) fn user_code_hash(state: &AppState, normalized: &str) -> String {
    state
        .keys
        .master()
        .keyed_hash(USER_CODE_PURPOSE)
        .hex(normalized)
}

/// The hash of a user code as a person typed it, if it can be one.
pub(crate) fn typed_code_hash(state: &AppState, typed: &str) -> Option<(String, String)> {
    let code = normalize_user_code(typed)?;
    let hash = user_code_hash(state, &code);
    Some((code, hash))
}
