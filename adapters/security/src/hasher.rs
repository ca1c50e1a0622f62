//! bcrypt hashing of API key secrets.

use async_trait::async_trait;
use tfr_ports::driven::SecretHasher;

use crate::SecurityConfigError;

/// bcrypt with a fixed cost, run in `spawn_blocking` so the executor keeps serving.
///
/// bcrypt reads at most 72 bytes of input. tfr's API keys are 44 bytes (`tfr_` + 40), so
/// nothing is lost; longer secrets are refused by [`SecretHasher::hash`] rather than
/// silently truncated, and never verify.
#[derive(Debug, Clone, Copy)]
pub struct BcryptHasher {
    cost: u32,
}

impl BcryptHasher {
    pub const MIN_COST: u32 = 4;
    pub const MAX_COST: u32 = 31;
    /// bcrypt's own default (12).
    pub const DEFAULT_COST: u32 = bcrypt::DEFAULT_COST;

    /// `cost` must be in 4..=31; use 4 in tests and [`Self::DEFAULT_COST`] or more in
    /// production.
    pub fn new(cost: u32) -> Result<Self, SecurityConfigError> {
        if !(Self::MIN_COST..=Self::MAX_COST).contains(&cost) {
            return Err(SecurityConfigError::BcryptCost {
                min: Self::MIN_COST,
                max: Self::MAX_COST,
                actual: cost,
            });
        }
        Ok(Self { cost })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }
}

#[async_trait]
impl SecretHasher for BcryptHasher {
    async fn hash(&self, secret: &str) -> Result<String, String> {
        let secret = secret.to_owned();
        let cost = self.cost;
        tokio::task::spawn_blocking(move || bcrypt::non_truncating_hash(secret.as_bytes(), cost))
            .await
            .map_err(|e| format!("bcrypt task failed: {e}"))?
            .map_err(|e| format!("bcrypt hash failed: {e}"))
    }

    async fn verify(&self, secret: &str, hash: &str) -> Result<bool, String> {
        let secret = secret.to_owned();
        let hash = hash.to_owned();
        let outcome = tokio::task::spawn_blocking(move || {
            bcrypt::non_truncating_verify(secret.as_bytes(), &hash)
        })
        .await
        .map_err(|e| format!("bcrypt task failed: {e}"))?;
        match outcome {
            Ok(matches) => Ok(matches),
            // A presented secret too long for bcrypt cannot be one of ours.
            Err(bcrypt::BcryptError::Truncation(_)) => Ok(false),
            Err(e) => Err(format!("bcrypt verify failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_validated() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
        assert_eq!(BcryptHasher::new(4).unwrap().cost(), 4);
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = BcryptHasher::new(4).unwrap();
        let key = "tfr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let hash = hasher.hash(key).await.unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert!(hasher.verify(key, &hash).await.unwrap());
        assert!(!hasher.verify("tfr_wrong", &hash).await.unwrap());
        // Salted: the same secret hashes differently each time.
        assert_ne!(hash, hasher.hash(key).await.unwrap());
    }

    #[tokio::test]
    async fn long_secrets_are_not_truncated() {
        let hasher = BcryptHasher::new(4).unwrap();
        let long = "x".repeat(100);
        assert!(hasher.hash(&long).await.is_err());
        let hash = hasher.hash(&"x".repeat(71)).await.unwrap();
        // Under truncation "x"*72.. would share a prefix; here it simply does not verify.
        assert!(!hasher.verify(&long, &hash).await.unwrap());
    }

    #[tokio::test]
    async fn garbage_hash_is_an_error() {
        let hasher = BcryptHasher::new(4).unwrap();
        assert!(hasher.verify("tfr_x", "not a bcrypt hash").await.is_err());
        assert!(hasher.verify("tfr_x", "").await.is_err());
    }
}
