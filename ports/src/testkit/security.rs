//! Deterministic fakes of the security ports, for use-case tests only.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::driven::{SecretGenerator, SecretHasher, UrlSigner};

/// Signs with a readable, insecure scheme: `sig-{key}-{expires}` (any change to key or expiry breaks it).
#[derive(Debug, Default)]
pub struct FakeUrlSigner;

impl UrlSigner for FakeUrlSigner {
    fn sign(&self, key: &str, expires: i64) -> String {
        format!("sig-{key}-{expires}")
    }
    fn verify(&self, key: &str, expires: i64, signature: &str) -> bool {
        self.sign(key, expires) == signature
    }
}

/// "Hashes" by prefixing; fast, for use-case tests.
#[derive(Debug, Default)]
pub struct PlainHasher;

#[async_trait]
impl SecretHasher for PlainHasher {
    async fn hash(&self, secret: &str) -> Result<String, String> {
        Ok(format!("plain:{secret}"))
    }
    async fn verify(&self, secret: &str, hash: &str) -> Result<bool, String> {
        Ok(hash == format!("plain:{secret}"))
    }
}

/// Counts up: `tfr_000000000001...`.
#[derive(Debug, Default)]
pub struct SequentialSecrets(AtomicU64);

impl SecretGenerator for SequentialSecrets {
    fn api_key(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        format!("tfr_{n:012}abcdefghijklmnopqrstuvwxyz0123")
    }
    fn token(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        format!("token{n:012}")
    }
}
