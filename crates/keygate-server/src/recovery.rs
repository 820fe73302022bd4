//! Recovery codes (docs/account.md, "Recovery codes"): ten single-use
//! codes that stand in for a second factor when its device is lost.
//!
//! A code is 12 characters of Crockford's base32 alphabet (60 random bits),
//! shown as `xxxx-xxxx-xxxx`. Whoever types one back may use either case,
//! spaces and dashes, and the look-alikes `o`, `i` and `l` (read as `0`, `1`
//! and `1`). Only the SHA-256 of the normalized code, bound to its tenant and
//! person, is stored: 60 random bits cannot be guessed offline within the
//! attempt limits, so a slow hash would add nothing. A code is found by its
//! hash (no comparison of secrets in code) and used once by one conditional
//! `UPDATE`, so of racing uses exactly one wins.
//!
//! Recovery codes are not a factor of their own: they are issued after the
//! first factor is added and go with the last one.

use crate::error::ApiError;
use crate::AppState;
use keygate_crypto::secrets;

/// How many codes a person gets at a time.
pub(crate) const COUNT: usize = 10;
/// The characters of a code: Crockford's base32 (no `i`, `l`, `o`, `u`).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters in a code, without its dashes.
const LEN: usize = 12;
/// The longest input tried as a recovery code (spaces and dashes included).
const MAX_INPUT: usize = 64;

/// A fresh code, `xxxx-xxxx-xxxx` (60 random bits).
fn new_code() -> String {
    let bytes = secrets::random_bytes(8);
    let mut n = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
    let mut out = String::with_capacity(LEN + 2);
    for i in 0..LEN {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[(n & 31) as usize] as char);
        n >>= 5;
    }
    out
}

/// The canonical form of a typed code (lower case, no spaces or dashes,
/// look-alikes mapped), or `None` when it cannot be a recovery code.
pub(crate) fn normalize(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT {
        return None;
    }
    let mut out = String::with_capacity(LEN);
    for c in input.chars() {
        let c = match c.to_ascii_lowercase() {
            ' ' | '-' | '\t' => continue,
            'o' => '0',
            'i' | 'l' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

/// What is stored of a normalized code: its SHA-256, bound to the person so
/// one person's hash is worth nothing for another.
fn hash(tenant: &str, sub: &str, normalized: &str) -> String {
    secrets::sha256_hex(&format!("recovery\n{tenant}\n{sub}\n{normalized}"))
}

/// Issues new recovery codes for the person, replacing every earlier one
/// (used or not); the codes, to be shown this once.
pub(crate) async fn issue(
    state: &AppState,
    tenant: &str,
    sub: &str,
) -> Result<Vec<String>, ApiError> {
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| normalize(c))
        .map(|c| hash(tenant, sub, &c))
        .collect();
    state
        .store
        .replace_recovery_codes(tenant, sub, &hashes, crate::now())
        .await?;
    tracing::info!(tenant, sub, count = COUNT, "recovery codes issued");
    Ok(codes)
}

/// How many of the person's recovery codes are unused.
pub(crate) async fn remaining(state: &AppState, tenant: &str, sub: &str) -> Result<i64, ApiError> {
    Ok(state.store.recovery_codes_left(tenant, sub).await?)
}

/// Uses the person's recovery code `input` if it is one of theirs and
/// unused: how many remain then, or `None` when it was not accepted.
pub(crate) async fn try_use(
    state: &AppState,
    tenant: &str,
    sub: &str,
    input: &str,
) -> Result<Option<i64>, ApiError> {
    let Some(code) = normalize(input) else {
        return Ok(None);
    };
    let used = state
        .store
        .use_recovery_code(tenant, sub, &hash(tenant, sub, &code), crate::now())
        .await?;
    if !used {
        return Ok(None);
    }
    let left = remaining(state, tenant, sub).await?;
    tracing::info!(tenant, sub, remaining = left, "recovery code used");
    Ok(Some(left))
}

/// Deletes the person's recovery codes when they have no second factor
/// left (after one was removed).
pub(crate) async fn forget_without_factor(
    state: &AppState,
    tenant: &str,
    sub: &str,
) -> Result<(), ApiError> {
    let gone = state
        .store
        .delete_recovery_codes_without_factor(tenant, sub)
        .await?;
    if gone > 0 {
        tracing::info!(
            tenant,
            sub,
            deleted = gone,
            "recovery codes deleted: no second factor left"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_twelve_unambiguous_characters_in_three_groups() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let c = new_code();
            assert_eq!(c.len(), 14, "{c}");
            assert_eq!(c.matches('-').count(), 2, "{c}");
            assert!(c.split('-').all(|g| g.len() == 4), "{c}");
            assert!(!c.contains(['i', 'l', 'o', 'u']), "{c}");
            assert_eq!(normalize(&c).unwrap(), c.replace('-', ""));
            assert!(seen.insert(c));
        }
    }

    #[test]
    fn typed_codes_are_normalized() {
        let canonical = Some("ab1c0d2e3f4g".to_string());
        assert_eq!(normalize("ab1c-0d2e-3f4g"), canonical);
        assert_eq!(normalize(" AB1C 0D2E 3F4G "), canonical);
        assert_eq!(normalize("abIc-Od2e-3f4g"), canonical);
        assert_eq!(normalize("ablc0d2e3f4g"), canonical);
        assert_eq!(normalize("ab1c-0d2e-3f4"), None, "too short");
        assert_eq!(normalize("ab1c-0d2e-3f4gh"), None, "too long");
        assert_eq!(
            normalize("ab1c-0d2e-3f4u"),
            None,
            "u is not in the alphabet"
        );
        assert_eq!(normalize("ab1c-0d2e-3f4é"), None);
        assert_eq!(normalize("123456"), None);
        assert_eq!(normalize(&"-".repeat(100)), None);
    }

    #[test]
    fn hashes_are_bound_to_the_person() {
        assert_ne!(hash("t", "a", "x"), hash("t", "b", "x"));
        assert_ne!(hash("t", "a", "x"), hash("u", "a", "x"));
        assert_eq!(hash("t", "a", "x"), hash("t", "a", "x"));
    }
}
