//! The master key and the sealing of signing keys at rest (AES-256-GCM with a
//! random nonce; the key id is bound as associated data, so a sealed key
//! cannot be swapped under another id).

use crate::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The AES-256-GCM key that seals signing keys at rest. Debug output never shows it.
pub struct MasterKey(LessSafeKey, hkdf::Prk);

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
        // Keys for other purposes than sealing are derived from the master
        // key by HKDF (RFC 5869), never the master key itself.
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"keygate master key derivation").extract(bytes);
        Ok(MasterKey(LessSafeKey::new(key), prk))
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
        self.0
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
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let mut out = [0u8; 32];
        let info = [purpose.as_bytes()];
        self.1
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
            .0
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
        assert_eq!(again.derive("dpop nonce"), same.derive("dpop nonce"));
        assert_ne!(again.derive("dpop nonce"), again.derive("other"));
        assert_ne!(again.derive("dpop nonce"), k.derive("dpop nonce"));
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
