//! OpenPGP public keys and binary detached signatures, checked the way Terraform's
//! provider installer checks them (ProtonMail go-crypto `CheckDetachedSignature`).

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::types::KeyDetails;
use tfr_ports::driven::{SignatureError, SignatureVerifier, SigningKeyInfo};

/// Largest armored key accepted (real keys are a few KiB).
const MAX_KEY_BYTES: usize = 1024 * 1024;
/// Largest signature accepted (a detached signature is well under 1 KiB).
const MAX_SIGNATURE_BYTES: usize = 64 * 1024;

/// Verifies with the pure-Rust `pgp` (rPGP) crate.
///
/// - Keys must be ASCII-armored public key blocks whose self-signatures and subkey
///   bindings verify; private key blocks and revoked keys are refused.
/// - `key_id` is the primary key's long key ID in upper-case hex, which Terraform prints
///   even when a signing subkey made the signature.
/// - The `ascii_armor` handed back is the parsed key re-armored, so only the public key
///   is ever served, whatever else the upload held.
/// - Signatures must be binary (`gpg --detach-sign`); Terraform rejects ASCII-armored
///   `.asc` signatures, so they are refused here with a message saying so.
#[derive(Debug, Default, Clone, Copy)]
pub struct PgpSignatureVerifier;

impl PgpSignatureVerifier {
    pub fn new() -> Self {
        Self
    }

    fn parse(armored: &str) -> Result<(SignedPublicKey, SigningKeyInfo), SignatureError> {
        if armored.len() > MAX_KEY_BYTES {
            return Err(SignatureError::BadKey(format!(
                "key is larger than {MAX_KEY_BYTES} bytes"
            )));
        }
        if armored.contains("PRIVATE KEY BLOCK") {
            return Err(SignatureError::BadKey(
                "this is a private key; upload only the public key (gpg --armor --export KEYID)"
                    .into(),
            ));
        }
        if !armored.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            return Err(SignatureError::BadKey(
                "expected an ASCII-armored block starting with -----BEGIN PGP PUBLIC KEY BLOCK-----".into(),
            ));
        }
        let (key, _headers) = SignedPublicKey::from_string(armored)
            .map_err(|e| SignatureError::BadKey(e.to_string()))?;
        key.verify_bindings().map_err(|e| {
            SignatureError::BadKey(format!("key self-signatures do not verify: {e}"))
        })?;
        if !key.details.revocation_signatures.is_empty() {
            return Err(SignatureError::BadKey("the key has been revoked".into()));
        }
        let ascii_armor = key
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| SignatureError::BadKey(format!("cannot re-armor the key: {e}")))?;
        let info = SigningKeyInfo {
            key_id: hex::encode_upper(key.legacy_key_id().as_ref()),
            fingerprint: hex::encode_upper(key.fingerprint().as_bytes()),
            ascii_armor,
            warnings: compatibility_warnings(&key),
        };
        Ok((key, info))
    }

    fn parse_signature(signature: &[u8]) -> Result<DetachedSignature, SignatureError> {
        let first = match signature.first() {
            None => {
                return Err(SignatureError::BadSignature(
                    "the signature is empty".into(),
                ));
            }
            Some(b) => *b,
        };
        if signature.len() > MAX_SIGNATURE_BYTES {
            return Err(SignatureError::BadSignature(format!(
                "signature is larger than {MAX_SIGNATURE_BYTES} bytes"
            )));
        }
        // Every OpenPGP packet starts with a tag byte with its high bit set; Terraform
        // fails with "tag byte does not have MSB set" otherwise.
        if first & 0x80 == 0 {
            let text = String::from_utf8_lossy(&signature[..signature.len().min(4096)]);
            if text.contains("-----BEGIN PGP") {
                return Err(SignatureError::BadSignature(
                    "this is an ASCII-armored (.asc) signature; Terraform needs a binary detached signature: \
                     sign with `gpg --detach-sign` (without --armor), or convert with `gpg --dearmor`"
                        .into(),
                ));
            }
            return Err(SignatureError::BadSignature(
                "not an OpenPGP packet (tag byte does not have its high bit set)".into(),
            ));
        }
        let sig = DetachedSignature::from_bytes(signature)
            .map_err(|e| SignatureError::BadSignature(e.to_string()))?;
        if sig.signature.issuer_key_id().is_empty() && sig.signature.issuer_fingerprint().is_empty()
        {
            // go-crypto refuses a signature that does not name its issuer.
            return Err(SignatureError::BadSignature(
                "the signature has no issuer key ID or issuer fingerprint".into(),
            ));
        }
        Ok(sig)
    }
}

impl SignatureVerifier for PgpSignatureVerifier {
    fn parse_public_key(&self, armored: &str) -> Result<SigningKeyInfo, SignatureError> {
        Self::parse(armored).map(|(_, info)| info)
    }

    fn verify_detached(
        &self,
        armored: &str,
        data: &[u8],
        signature: &[u8],
    ) -> Result<SigningKeyInfo, SignatureError> {
        let (key, info) = Self::parse(armored)?;
        let sig = Self::parse_signature(signature)?;
        // `verify` also checks that the signature's issuer names the key tried.
        if sig.verify(&key, data).is_ok() {
            return Ok(info);
        }
        if key
            .public_subkeys
            .iter()
            .filter(|sub| usable_for_signing(sub))
            .any(|sub| sig.verify(sub, data).is_ok())
        {
            return Ok(info);
        }
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests;

/// Terraform before the move to ProtonMail's go-crypto (1.0.x was seen failing) cannot
/// decode keys holding EdDSA or newer algorithms: "openpgp: unsupported feature: public key
/// type: 22". Such keys verify fine and current Terraform accepts them, so this warns.
fn compatibility_warnings(key: &SignedPublicKey) -> Vec<String> {
    let algorithms =
        std::iter::once(key.algorithm()).chain(key.public_subkeys.iter().map(|s| s.algorithm()));
    let modern: Vec<PublicKeyAlgorithm> = algorithms
        .filter(|a| {
            !matches!(
                a,
                PublicKeyAlgorithm::RSA
                    | PublicKeyAlgorithm::RSAEncrypt
                    | PublicKeyAlgorithm::RSASign
                    | PublicKeyAlgorithm::DSA
                    | PublicKeyAlgorithm::ECDSA
                    | PublicKeyAlgorithm::ECDH
                    | PublicKeyAlgorithm::Elgamal
                    | PublicKeyAlgorithm::ElgamalEncrypt
            )
        })
        .collect();
    match modern.first() {
        None => Vec::new(),
        Some(algorithm) => vec![format!(
            "the signing key uses {algorithm:?} (OpenPGP algorithm {}), which older Terraform releases \
             (1.0.x) cannot read (\"unsupported feature: public key type\"); sign with an RSA key if \
             such clients must install this provider",
            u8::from(*algorithm)
        )],
    }
}

/// Whether Terraform's OpenPGP library would accept a signature by this subkey: its
/// binding carries the "sign" key flag and it has not been revoked. (Expiry is not
/// checked: Terraform tolerates expired keys.)
fn usable_for_signing(sub: &pgp::composed::SignedPublicSubKey) -> bool {
    use pgp::packet::SignatureType;
    let revoked = sub
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
    let signs = sub
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyBinding) && s.key_flags().sign());
    signs && !revoked
}
