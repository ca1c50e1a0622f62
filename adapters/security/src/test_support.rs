//! Signing helpers for tests (feature `test-support`): generate an OpenPGP key and make
//! binary detached signatures, such as over a provider's `SHA256SUMS`, without `gpg`.
//!
//! Keys are v4 EdDSA (Ed25519, "legacy" algorithm 22), the kind `gpg` makes and
//! Terraform's go-crypto verifies. Helpers panic on failure: they are for tests only.

use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password};
use rand08::rngs::OsRng;

/// A generated key pair.
#[derive(Debug, Clone)]
pub struct TestSigningKey {
    /// The ASCII-armored public key, as a publisher uploads it.
    pub armored_public: String,
    secret: SignedSecretKey,
    sign_with_subkey: bool,
}

/// An Ed25519 key whose primary key signs.
pub fn generate_signing_key() -> TestSigningKey {
    generate("tfr test <test@example.com>", false, false)
}

/// An Ed25519 certify-only primary with an Ed25519 signing subkey that makes the
/// signatures (the layout `gpg --quick-generate-key` + `addkey sign` produces).
pub fn generate_subkey_signing_key() -> TestSigningKey {
    generate("tfr subkey test <subkey@example.com>", true, true)
}

/// Signs with a subkey whose binding lacks the "sign" flag: Terraform refuses such a
/// signature, so tfr must too.
pub fn generate_non_signing_subkey_key() -> TestSigningKey {
    generate("tfr auth-only subkey <auth@example.com>", true, false)
}

fn generate(user_id: &str, sign_with_subkey: bool, subkey_can_sign: bool) -> TestSigningKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(!sign_with_subkey)
        .primary_user_id(user_id.to_string());
    if sign_with_subkey {
        params.subkey(
            SubkeyParamsBuilder::default()
                .key_type(KeyType::Ed25519Legacy)
                .can_sign(subkey_can_sign)
                .can_authenticate(!subkey_can_sign)
                .build()
                .expect("subkey parameters"),
        );
    }
    let secret = params
        .build()
        .expect("key parameters")
        .generate(OsRng)
        .expect("key generation");
    let armored_public = secret
        .to_public_key()
        .to_armored_string(ArmorOptions::default())
        .expect("armor public key");
    TestSigningKey {
        armored_public,
        secret,
        sign_with_subkey,
    }
}

impl TestSigningKey {
    /// A binary detached signature over `data` (what `gpg --detach-sign` writes).
    pub fn sign_detached(&self, data: &[u8]) -> Vec<u8> {
        self.detached(data).to_bytes().expect("serialize signature")
    }

    /// The same signature ASCII-armored (`.asc`), which Terraform and tfr refuse.
    pub fn sign_detached_armored(&self, data: &[u8]) -> String {
        self.detached(data)
            .to_armored_string(ArmorOptions::default())
            .expect("armor signature")
    }

    /// The primary key's long key ID in upper-case hex (16 characters).
    pub fn key_id(&self) -> String {
        hex::encode_upper(self.secret.legacy_key_id().as_ref())
    }

    /// The primary key's fingerprint in upper-case hex.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.secret.fingerprint().as_bytes())
    }

    fn detached(&self, data: &[u8]) -> DetachedSignature {
        let password = Password::empty();
        let signed = if self.sign_with_subkey {
            let subkey = self.secret.secret_subkeys.first().expect("signing subkey");
            DetachedSignature::sign_binary_data(
                OsRng,
                &subkey.key,
                &password,
                HashAlgorithm::Sha256,
                data,
            )
        } else {
            DetachedSignature::sign_binary_data(
                OsRng,
                &self.secret.primary_key,
                &password,
                HashAlgorithm::Sha256,
                data,
            )
        };
        signed.expect("sign")
    }
}
