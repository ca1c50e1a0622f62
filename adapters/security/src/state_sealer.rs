//! Authenticated encryption of short-lived browser-held state (the pending SSO login).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::{RngCore, TryRngCore};
use sha2::{Digest, Sha256};
use tfr_ports::driven::StateSealer;

use crate::SecurityConfigError;

/// XChaCha20-Poly1305 with a fresh random 192-bit nonce per seal; the output is
/// `base64url(nonce || ciphertext || tag)` without padding, safe in URLs and cookies.
///
/// The key is `SHA-256("tfr state sealer v1" || secret)`, so the secret that signs
/// session tokens can be configured once and reused here without one key serving two
/// algorithms. Random 24-byte nonces make nonce reuse negligible without any counter.
#[derive(Clone)]
pub struct ChaChaStateSealer {
    cipher: XChaCha20Poly1305,
}

const KEY_DOMAIN: &[u8] = b"tfr state sealer v1";
/// Bound to every ciphertext, so nothing sealed by another tfr component under the same
/// key could be opened as state.
const AAD: &[u8] = b"tfr-state";
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

impl ChaChaStateSealer {
    /// Shortest secret accepted.
    pub const MIN_SECRET_BYTES: usize = 32;
    /// Longer sealed inputs are refused without decoding (cookies are at most 4 KiB).
    pub const MAX_SEALED_CHARS: usize = 16 * 1024;

    pub fn new(secret: &[u8]) -> Result<Self, SecurityConfigError> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(SecurityConfigError::SecretTooShort {
                min: Self::MIN_SECRET_BYTES,
                actual: secret.len(),
            });
        }
        let key = Sha256::new()
            .chain_update(KEY_DOMAIN)
            .chain_update(secret)
            .finalize();
        let cipher = XChaCha20Poly1305::new_from_slice(key.as_slice()).map_err(|_| {
            SecurityConfigError::SecretTooShort {
                min: Self::MIN_SECRET_BYTES,
                actual: secret.len(),
            }
        })?;
        Ok(Self { cipher })
    }
}

impl std::fmt::Debug for ChaChaStateSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaChaStateSealer")
            .field("key", &"<redacted>")
            .finish()
    }
}

fn random_nonce() -> [u8; NONCE_BYTES] {
    let mut bytes = [0u8; NONCE_BYTES];
    if rand::rngs::OsRng.try_fill_bytes(&mut bytes).is_err() {
        // The thread-local generator is a CSPRNG seeded from the OS as well.
        rand::rng().fill_bytes(&mut bytes);
    }
    bytes
}

impl StateSealer for ChaChaStateSealer {
    fn seal(&self, plaintext: &[u8]) -> String {
        let nonce_bytes = random_nonce();
        let nonce = XNonce::from(nonce_bytes);
        // Encryption fails only for messages beyond 256 GiB; an empty output never opens.
        let Ok(ciphertext) = self.cipher.encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: AAD,
            },
        ) else {
            return String::new();
        };
        let mut out = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > Self::MAX_SEALED_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed.as_bytes()).ok()?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: AAD,
                },
            )
            .ok()
    }
}
