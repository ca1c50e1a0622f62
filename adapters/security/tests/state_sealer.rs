//! XChaCha20-Poly1305 state sealing: round trips, and `None` for anything not sealed by
//! this key.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tfr_ports::driven::StateSealer;
use tfr_security::{ChaChaStateSealer, SecurityConfigError};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn sealer() -> ChaChaStateSealer {
    ChaChaStateSealer::new(SECRET).unwrap()
}

#[test]
fn round_trip() {
    let sealer = sealer();
    for plaintext in [
        &b""[..],
        b"x",
        br#"{"state":"s","nonce":"n","pkce":"v"}"#,
        &[0u8; 3000],
    ] {
        let sealed = sealer.seal(plaintext);
        assert_eq!(sealer.open(&sealed).as_deref(), Some(plaintext));
    }
}

#[test]
fn output_is_cookie_safe_and_fresh_per_seal() {
    let sealer = sealer();
    let sealed: HashSet<String> = (0..200).map(|_| sealer.seal(b"same input")).collect();
    assert_eq!(sealed.len(), 200, "a fresh nonce per seal");
    for s in &sealed {
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{s}"
        );
        // 24-byte nonce + 10-byte message + 16-byte tag.
        assert_eq!(URL_SAFE_NO_PAD.decode(s).unwrap().len(), 24 + 10 + 16);
        assert!(!s.contains("same"));
    }
}

#[test]
fn tampering_is_detected() {
    let sealer = sealer();
    let sealed = sealer.seal(b"pending login");
    let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    for i in [0, 10, 23, 24, 30, bytes.len() - 1] {
        let mut forged = bytes.clone();
        forged[i] ^= 0x01;
        assert_eq!(
            sealer.open(&URL_SAFE_NO_PAD.encode(&forged)),
            None,
            "byte {i}"
        );
    }
    // Truncated and extended.
    assert_eq!(
        sealer.open(&URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() - 1])),
        None
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(sealer.open(&URL_SAFE_NO_PAD.encode(&longer)), None);
}

#[test]
fn another_key_cannot_open() {
    let sealed = sealer().seal(b"pending login");
    let other = ChaChaStateSealer::new(b"another secret that is long enough!!").unwrap();
    assert_eq!(other.open(&sealed), None);
}

#[test]
fn garbage_is_refused() {
    let sealer = sealer();
    let short = URL_SAFE_NO_PAD.encode([0u8; 39]);
    let zeros = URL_SAFE_NO_PAD.encode([0u8; 64]);
    let huge = "A".repeat(100_000);
    for input in ["", "a", "not base64 !!", "====", &short, &zeros, &huge] {
        assert_eq!(sealer.open(input), None, "{input:.20}");
    }
}

#[test]
fn key_is_domain_separated_from_the_secret() {
    // Sealing with the raw secret as the key must not produce something we open, and
    // vice versa: the sealer derives its own key.
    use chacha20poly1305::aead::{Aead, Payload};
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
    let raw = XChaCha20Poly1305::new_from_slice(SECRET).unwrap();
    let nonce = XNonce::from([7u8; 24]);
    let ct = raw
        .encrypt(
            &nonce,
            Payload {
                msg: b"x",
                aad: b"tfr-state",
            },
        )
        .unwrap();
    let mut forged = vec![7u8; 24];
    forged.extend_from_slice(&ct);
    assert_eq!(sealer().open(&URL_SAFE_NO_PAD.encode(forged)), None);
}

#[test]
fn short_secret_is_refused() {
    assert_eq!(
        ChaChaStateSealer::new(&SECRET[..31]).unwrap_err(),
        SecurityConfigError::SecretTooShort {
            min: 32,
            actual: 31
        }
    );
}

#[test]
fn debug_redacts_the_key() {
    let shown = format!("{:?}", sealer());
    assert!(shown.contains("redacted"), "{shown}");
}
