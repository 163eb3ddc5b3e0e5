//! The few cryptographic operations the functions need, all from `aws-lc-rs` (the
//! library the AWS SDK and jsonwebtoken already use here): random tokens, SHA-256
//! digests of tokens for storage, and AES-256-GCM sealing of broker credentials.
//!
//! Refresh tokens and API keys are 256-bit random values, so a plain SHA-256 digest is
//! the right way to store them (no password stretching needed: they cannot be guessed);
//! passwords go through argon2id in the auth function instead.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::settings::SettingsError;

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The system RNG failing is a broken machine; a zero token would be guessable, so
    // this is the one place a failure must not be papered over.
    rand::fill(&mut buf).expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of `value`, hex: how tokens and keys are stored and looked up.
pub fn sha256_hex(value: &str) -> String {
    let d = digest::digest(&digest::SHA256, value.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Seals and opens small secrets (broker credentials) with AES-256-GCM. Each seal uses
/// a fresh random nonce; the associated data binds a ciphertext to its owner (an
/// account id), so a sealed value copied to another account does not open.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

/// Sealed values start with this, so the format can change later.
const VERSION: &str = "v1.";

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        // A 32-byte key is always a valid AES-256 key.
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("32-byte AES-256 key");
        Sealer {
            key: LessSafeKey::new(unbound),
        }
    }

    /// A key given as base64 of 32 bytes.
    pub fn from_base64_key(encoded: &str) -> Result<Self, SettingsError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| SettingsError::Invalid {
                setting: "credentials_key",
                message: format!("not base64: {e}"),
            })?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SettingsError::Invalid {
                setting: "credentials_key",
                message: format!("must be 32 bytes, is {}", bytes.len()),
            })?;
        Ok(Sealer::new(&key))
    }

    /// A key derived from another secret (HMAC-SHA256 under a fixed label), for setups
    /// with a single secret.
    pub fn derived_from(secret: &str) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let tag = hmac::sign(&key, b"stratus broker credentials v1");
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&tag.as_ref()[..32]);
        Sealer::new(&bytes)
    }

    pub fn seal(&self, plaintext: &[u8], owner: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).expect("the system random number generator failed");
        let mut in_out = plaintext.to_vec();
        // Sealing fails only for inputs beyond GCM's 64 GiB bound; credentials are KiB.
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut in_out,
            )
            .expect("AES-GCM seal of a small value");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&in_out);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext, or `None` if `sealed` was not sealed by this key for this owner.
    pub fn open(&self, sealed: &str, owner: &str) -> Option<Vec<u8>> {
        let body = sealed.strip_prefix(VERSION)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut in_out)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_owner() {
        let sealer = Sealer::derived_from("a secret of at least thirty-two bytes");
        let sealed = sealer.seal(b"api-secret-123", "account-1");
        assert!(!sealed.contains("api-secret"));
        assert_ne!(
            sealed,
            sealer.seal(b"api-secret-123", "account-1"),
            "fresh nonce"
        );
        assert_eq!(
            sealer.open(&sealed, "account-1").as_deref(),
            Some(&b"api-secret-123"[..])
        );
        assert_eq!(sealer.open(&sealed, "account-2"), None, "other owner");
        let other = Sealer::derived_from("another secret of thirty-two bytes!!");
        assert_eq!(other.open(&sealed, "account-1"), None, "other key");
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert_eq!(sealer.open(&tampered, "account-1"), None);
        assert_eq!(sealer.open("v1.", "account-1"), None);
        assert_eq!(sealer.open("garbage", "account-1"), None);
    }

    #[test]
    fn configured_keys_must_be_32_bytes_of_base64() {
        assert!(Sealer::from_base64_key(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(Sealer::from_base64_key(&STANDARD.encode([7u8; 16])).is_err());
        assert!(Sealer::from_base64_key("***").is_err());
    }
}
