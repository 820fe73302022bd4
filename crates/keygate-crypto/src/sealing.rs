//! The master key and the sealing of signing keys at rest (AES-256-GCM with a
//! random nonce; the key id is bound as associated data, so a sealed key
//! cannot be swapped under another id), and the keys derived from it
//! (HKDF-SHA256, RFC 5869) for keyed hashes of small secrets.

use crate::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{hkdf, hmac};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The AES-256-GCM key that seals signing keys at rest, and the HKDF
/// pseudorandom key other keys are derived from. Debug output never shows
/// either.
pub struct MasterKey {
    aead: LessSafeKey,
    derive: hkdf::Prk,
}

/// The HKDF salt of keys derived from the master key (RFC 5869 2.2: a
/// fixed, non-secret value separating them from any other use of it).
const DERIVE_SALT: &[u8] = b"keygate master key derivation v1";

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses 64 hex characters (32 bytes).
    pub fn from_hex(hex: &str) -> Result<MasterKey, CryptoError> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(CryptoError::MasterKey(format!(
                "expected 64 hex characters, got {}",
                hex.len()
            )));
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| CryptoError::MasterKey("not hexadecimal".into()))?;
        }
        Self::from_bytes(&bytes)
    }

    /// The master key of these 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<MasterKey, CryptoError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| CryptoError::MasterKey("rejected".into()))?;
        let derive = hkdf::Salt::new(hkdf::HKDF_SHA256, DERIVE_SALT).extract(bytes);
        Ok(MasterKey {
            aead: LessSafeKey::new(key),
            derive,
        })
    }

    /// A keyed hash (HMAC-SHA256) under a key derived from the master key
    /// for `purpose` alone: for secrets too small to be stored as a plain
    /// SHA-256 (a user code of RFC 8628 has about 2^35 values, which a
    /// plain hash would give away to anyone reading the database).
    pub fn keyed_hash(&self, purpose: &str) -> crate::secrets::KeyedHash {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.derive_key(purpose));
        crate::secrets::KeyedHash::new(key)
    }

    /// A new random master key, as 64 hex characters.
    pub fn generate_hex() -> String {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system CSPRNG failed");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts `plaintext` bound to `label` (the key id): base64 of nonce, ciphertext and tag.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system CSPRNG failed");
        let mut buf = plaintext.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for small inputs");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    /// A 32-byte key for `purpose`, derived from the master key by HKDF-SHA256
    /// (RFC 5869): the same on every node that shares the master key, and
    /// unrelated to the key of any other purpose (docs/dpop.md: the DPoP
    /// nonce key).
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let mut out = [0u8; 32];
        let info = [purpose.as_bytes()];
        self.derive
            .expand(&info, Len)
            .and_then(|okm| okm.fill(&mut out))
            .expect("HKDF-SHA256 can expand 32 bytes");
        out
    }

    /// Decrypts what [`MasterKey::seal`] gave for the same `label`; anything else is
    /// [`CryptoError::Unseal`].
    pub fn open(&self, label: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let raw = STANDARD.decode(sealed).map_err(|_| CryptoError::Unseal)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Unseal);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Unseal)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(label.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Unseal)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let k = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
        let s = k.seal("kid1", b"secret key");
        assert_eq!(k.open("kid1", &s).unwrap(), b"secret key");
        assert!(k.open("kid2", &s).is_err(), "label is bound");
        let other = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
        assert!(other.open("kid1", &s).is_err());
        assert!(MasterKey::from_hex("abc").is_err());
        // Derived keys: one per purpose, the same for the same master key.
        let again = MasterKey::from_hex(&"ab".repeat(32)).unwrap();
        let same = MasterKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(
            again.derive_key("dpop nonce"),
            same.derive_key("dpop nonce")
        );
        assert_ne!(again.derive_key("dpop nonce"), again.derive_key("other"));
        assert_ne!(again.derive_key("dpop nonce"), k.derive_key("dpop nonce"));
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn keyed_hashes_depend_on_the_key_and_the_purpose() {
        let k = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        let again = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        let other = MasterKey::from_hex(&"22".repeat(32)).unwrap();
        let h = k.keyed_hash("device user code").hex("BCDFGHJK");
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        // Deterministic for one master key (every node finds the same row).
        assert_eq!(again.keyed_hash("device user code").hex("BCDFGHJK"), h);
        assert_ne!(k.keyed_hash("device user code").hex("BCDFGHJL"), h);
        assert_ne!(k.keyed_hash("another purpose").hex("BCDFGHJK"), h);
        assert_ne!(other.keyed_hash("device user code").hex("BCDFGHJK"), h);
        // Not the plain SHA-256 of the value.
        assert_ne!(crate::secrets::sha256_hex("BCDFGHJK"), h);
    }
}
