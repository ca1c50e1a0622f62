use rand08::{Rng, RngCore, SeedableRng};

use super::*;
use crate::test_support::{
    generate_non_signing_subkey_key, generate_signing_key, generate_subkey_signing_key,
};

const SUMS: &[u8] = b"434330ffebf258c97b9d8a6aca32cd67f2291fd08da83df879ea2c5ceb911b8c  terraform-provider-fake_1.0.0_linux_amd64.zip\n";

fn verifier() -> PgpSignatureVerifier {
    PgpSignatureVerifier::new()
}

#[test]
fn parses_key_and_reports_ids() {
    let key = generate_signing_key();
    let info = verifier().parse_public_key(&key.armored_public).unwrap();
    assert_eq!(info.key_id, key.key_id());
    assert_eq!(info.key_id.len(), 16);
    assert!(
        info.key_id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
    assert_eq!(info.fingerprint, key.fingerprint());
    assert_eq!(info.fingerprint.len(), 40);
    assert!(
        info.fingerprint.ends_with(&info.key_id),
        "v4 key ID is the fingerprint's tail"
    );
    assert!(
        info.ascii_armor
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    );
    // The re-armored key parses to the same key.
    assert_eq!(
        verifier()
            .parse_public_key(&info.ascii_armor)
            .unwrap()
            .fingerprint,
        info.fingerprint
    );
}

#[test]
fn good_signature_by_primary_key() {
    let key = generate_signing_key();
    let sig = key.sign_detached(SUMS);
    assert_ne!(sig[0] & 0x80, 0, "binary packet");
    let info = verifier()
        .verify_detached(&key.armored_public, SUMS, &sig)
        .unwrap();
    assert_eq!(info.key_id, key.key_id());
}

#[test]
fn good_signature_by_signing_subkey_reports_primary_key_id() {
    let key = generate_subkey_signing_key();
    let parsed = SignedPublicKey::from_string(&key.armored_public).unwrap().0;
    assert_eq!(parsed.public_subkeys.len(), 1);
    let sig = key.sign_detached(SUMS);
    let issuer = DetachedSignature::from_bytes(&sig[..]).unwrap();
    assert_ne!(
        issuer.signature.issuer_key_id()[0]
            .to_string()
            .to_uppercase(),
        key.key_id(),
        "the subkey signed"
    );
    let info = verifier()
        .verify_detached(&key.armored_public, SUMS, &sig)
        .unwrap();
    assert_eq!(info.key_id, key.key_id());
}

#[test]
fn tampered_data_is_a_mismatch() {
    let key = generate_signing_key();
    let sig = key.sign_detached(SUMS);
    let mut tampered = SUMS.to_vec();
    tampered[0] ^= 1;
    assert_eq!(
        verifier().verify_detached(&key.armored_public, &tampered, &sig),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verifier().verify_detached(&key.armored_public, b"", &sig),
        Err(SignatureError::Mismatch)
    );

    let sub = generate_subkey_signing_key();
    let sig = sub.sign_detached(SUMS);
    assert_eq!(
        verifier().verify_detached(&sub.armored_public, &tampered, &sig),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn wrong_key_is_a_mismatch() {
    let signer = generate_signing_key();
    let other = generate_signing_key();
    let sig = signer.sign_detached(SUMS);
    assert_eq!(
        verifier().verify_detached(&other.armored_public, SUMS, &sig),
        Err(SignatureError::Mismatch)
    );
    let sub = generate_subkey_signing_key();
    assert_eq!(
        verifier().verify_detached(&sub.armored_public, SUMS, &sig),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn armored_signature_is_refused_with_a_hint() {
    let key = generate_signing_key();
    let asc = key.sign_detached_armored(SUMS);
    assert!(asc.starts_with("-----BEGIN PGP SIGNATURE-----"));
    match verifier().verify_detached(&key.armored_public, SUMS, asc.as_bytes()) {
        Err(SignatureError::BadSignature(msg)) => {
            assert!(msg.contains("binary"), "{msg}");
            assert!(msg.contains("Terraform"), "{msg}");
        }
        other => panic!("expected BadSignature, got {other:?}"),
    }
    // Leading whitespace does not hide it.
    let padded = format!("\n  {asc}");
    assert!(matches!(
        verifier().verify_detached(&key.armored_public, SUMS, padded.as_bytes()),
        Err(SignatureError::BadSignature(msg)) if msg.contains("binary")
    ));
}

#[test]
fn garbage_keys_are_bad_keys() {
    let key = generate_signing_key();
    let sig = key.sign_detached(SUMS);
    let truncated = &key.armored_public[..key.armored_public.len() / 2];
    let cases = [
        String::new(),
        "hello".to_string(),
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"
            .to_string(),
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"
            .to_string(),
        truncated.to_string(),
        key.armored_public.replace("PUBLIC KEY", "PRIVATE KEY"),
        "x".repeat(MAX_KEY_BYTES + 1),
    ];
    for case in &cases {
        assert!(
            matches!(
                verifier().parse_public_key(case),
                Err(SignatureError::BadKey(_))
            ),
            "{case:.80}"
        );
        assert!(
            matches!(
                verifier().verify_detached(case, SUMS, &sig),
                Err(SignatureError::BadKey(_))
            ),
            "{case:.80}"
        );
    }
}

#[test]
fn garbage_signatures_are_bad_signatures() {
    let key = generate_signing_key();
    for sig in [
        &b""[..],
        b"hello",
        b"\x89",
        b"\xff\xff\xff\xff",
        &[0u8; 100],
    ] {
        assert!(
            matches!(
                verifier().verify_detached(&key.armored_public, SUMS, sig),
                Err(SignatureError::BadSignature(_))
            ),
            "{sig:?}"
        );
    }
    // A public key where a signature belongs.
    let parsed = SignedPublicKey::from_string(&key.armored_public).unwrap().0;
    let key_bytes = pgp::ser::Serialize::to_bytes(&parsed).unwrap();
    assert!(
        verifier()
            .verify_detached(&key.armored_public, SUMS, &key_bytes)
            .is_err()
    );
}

#[test]
fn fuzzed_inputs_never_panic_or_verify() {
    let key = generate_signing_key();
    let good = key.sign_detached(SUMS);
    let mut rng = rand08::rngs::StdRng::seed_from_u64(0x7f7);

    // Random bytes, with and without the packet tag bit.
    for _ in 0..100 {
        let len = rng.gen_range(0..300);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        if let Some(first) = bytes.first_mut() {
            *first |= 0x80;
        }
        assert!(
            verifier()
                .verify_detached(&key.armored_public, SUMS, &bytes)
                .is_err()
        );
    }
    // Every truncation of a good signature.
    for len in 0..good.len() {
        assert!(
            verifier()
                .verify_detached(&key.armored_public, SUMS, &good[..len])
                .is_err()
        );
    }
    // Any flipped bit in the signature value (EdDSA's `s`, at the end) breaks it. Only the
    // last 30 bytes are certainly `s`: its MPI drops leading zero bytes, and flipping the
    // low bits of the MPI's bit count that may then precede them changes nothing.
    for pos in good.len() - 30..good.len() {
        for bit in 0..8 {
            let mut flipped = good.clone();
            flipped[pos] ^= 1 << bit;
            assert!(
                verifier()
                    .verify_detached(&key.armored_public, SUMS, &flipped)
                    .is_err()
            );
        }
    }
    // Flips anywhere else must not panic either.
    for pos in 0..good.len() {
        let mut flipped = good.clone();
        flipped[pos] ^= 0x55;
        let _ = verifier().verify_detached(&key.armored_public, SUMS, &flipped);
    }
    // Random armored bodies for keys.
    for _ in 0..100 {
        let len = rng.gen_range(0..400);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        let body = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        let armored = format!(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{body}\n-----END PGP PUBLIC KEY BLOCK-----\n"
        );
        assert!(verifier().parse_public_key(&armored).is_err());
    }
    // Corrupted characters in a real armored key.
    let armored = key.armored_public.clone();
    for _ in 0..100 {
        let mut chars: Vec<u8> = armored.clone().into_bytes();
        let pos = rng.gen_range(40..chars.len() - 40);
        chars[pos] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
            [rng.gen_range(0..65)];
        let text = String::from_utf8_lossy(&chars).into_owned();
        // Either rejected, or (a no-op change) the very same key.
        match verifier().parse_public_key(&text) {
            Ok(info) => assert_eq!(info.key_id, key.key_id()),
            Err(e) => assert!(matches!(e, SignatureError::BadKey(_))),
        }
    }
}

mod gpg;

#[test]
fn eddsa_keys_carry_a_compatibility_warning() {
    let key = generate_signing_key();
    let info = verifier().parse_public_key(&key.armored_public).unwrap();
    assert_eq!(info.warnings.len(), 1, "{:?}", info.warnings);
    assert!(
        info.warnings[0].contains("RSA") && info.warnings[0].contains("1.0.x"),
        "{}",
        info.warnings[0]
    );
    let verified = verifier()
        .verify_detached(&key.armored_public, b"data", &key.sign_detached(b"data"))
        .unwrap();
    assert_eq!(
        verified.warnings, info.warnings,
        "verification reports the same warnings"
    );
}

#[test]
fn a_subkey_without_the_sign_flag_is_not_accepted() {
    let key = generate_non_signing_subkey_key();
    let sig = key.sign_detached(SUMS);
    assert_eq!(
        verifier().verify_detached(&key.armored_public, SUMS, &sig),
        Err(SignatureError::Mismatch),
        "Terraform only trusts signatures by keys flagged for signing"
    );
}
