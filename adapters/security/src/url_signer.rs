//! HMAC-SHA256 signatures for tfr's own download links.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tfr_ports::driven::UrlSigner;

use crate::SecurityConfigError;

type HmacSha256 = Hmac<Sha256>;

/// Signs `key + "\n" + expires` with HMAC-SHA256 and encodes the tag as unpadded
/// base64url (43 characters). `expires` is an integer and never holds a newline, so the
/// message is unambiguous for any key.
///
/// The signer only checks the tag; the caller compares `expires` with its clock.
#[derive(Clone)]
pub struct HmacUrlSigner {
    mac: HmacSha256,
}

impl HmacUrlSigner {
    /// Shortest secret accepted: 32 bytes, the HMAC-SHA256 output size.
    pub const MIN_SECRET_BYTES: usize = 32;

    pub fn new(secret: &[u8]) -> Result<Self, SecurityConfigError> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(SecurityConfigError::SecretTooShort {
                min: Self::MIN_SECRET_BYTES,
                actual: secret.len(),
            });
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| {
            SecurityConfigError::SecretTooShort {
                min: Self::MIN_SECRET_BYTES,
                actual: secret.len(),
            }
        })?;
        Ok(Self { mac })
    }

    fn mac_for(&self, key: &str, expires: i64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }
}

impl std::fmt::Debug for HmacUrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacUrlSigner")
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl UrlSigner for HmacUrlSigner {
    fn sign(&self, key: &str, expires: i64) -> String {
        URL_SAFE_NO_PAD.encode(
            self.mac_for(key, expires)
                .finalize()
                .into_bytes()
                .as_slice(),
        )
    }

    fn verify(&self, key: &str, expires: i64, signature: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature.as_bytes()) else {
            return false;
        };
        // `verify_slice` compares in constant time and rejects a tag of the wrong length.
        self.mac_for(key, expires).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn short_secret_is_refused() {
        let err = HmacUrlSigner::new(b"too short").unwrap_err();
        assert_eq!(
            err,
            SecurityConfigError::SecretTooShort { min: 32, actual: 9 }
        );
        assert!(HmacUrlSigner::new(&SECRET[..31]).is_err());
        assert!(HmacUrlSigner::new(SECRET).is_ok());
    }

    #[test]
    fn sign_then_verify() {
        let signer = HmacUrlSigner::new(SECRET).unwrap();
        let sig = signer.sign("modules/acme/vpc/aws/1.0.0.tar.gz", 1_700_000_000);
        assert_eq!(sig.len(), 43);
        assert!(
            sig.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(signer.verify("modules/acme/vpc/aws/1.0.0.tar.gz", 1_700_000_000, &sig));
    }

    #[test]
    fn known_vector() {
        // python3 -c 'import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(
        //   b"0123456789abcdef0123456789abcdef", b"a/b\n42", hashlib.sha256).digest()).rstrip(b"="))'
        let signer = HmacUrlSigner::new(SECRET).unwrap();
        assert_eq!(signer.sign("a/b", 42), KNOWN_A_B_42);
    }

    const KNOWN_A_B_42: &str = "2Hp83KjJPtXBm__z54I08mbpbWq5sen2q2Qv9l0t3hQ";

    #[test]
    fn tampering_is_detected() {
        let signer = HmacUrlSigner::new(SECRET).unwrap();
        let sig = signer.sign("a/b", 42);
        assert!(!signer.verify("a/c", 42, &sig));
        assert!(!signer.verify("a/b", 43, &sig));
        assert!(!signer.verify("a/b", 42, &sig[..42]));
        assert!(!signer.verify("a/b", 42, ""));
        assert!(!signer.verify("a/b", 42, "not base64 !!"));
        assert!(!signer.verify("a/b", 42, &format!("{sig}AA")));
        let other = HmacUrlSigner::new(b"another secret that is long enough!!").unwrap();
        assert!(!other.verify("a/b", 42, &sig));
    }

    #[test]
    fn newline_in_key_cannot_shift_expiry() {
        let signer = HmacUrlSigner::new(SECRET).unwrap();
        let sig = signer.sign("a\n1", 2);
        assert!(!signer.verify("a", 12, &sig));
        assert!(!signer.verify("a\n", 12, &sig));
    }

    #[test]
    fn debug_redacts_secret() {
        let signer = HmacUrlSigner::new(SECRET).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("0123456789abcdef"));
    }
}
