//! Random API keys and tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{RngCore, TryRngCore};
use tfr_ports::driven::SecretGenerator;

/// API keys: `tfr_` followed by 30 random bytes as unpadded base64url (40 characters,
/// 240 bits); tokens: 32 random bytes as unpadded base64url. Read from the operating
/// system's generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

impl RandomSecrets {
    pub const PREFIX: &'static str = "tfr_";
    const RANDOM_BYTES: usize = 30;
    const TOKEN_BYTES: usize = 32;
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if rand::rngs::OsRng.try_fill_bytes(&mut bytes).is_err() {
        // The thread-local generator is a CSPRNG seeded from the OS as well.
        rand::rng().fill_bytes(&mut bytes);
    }
    bytes
}

impl SecretGenerator for RandomSecrets {
    fn api_key(&self) -> String {
        let bytes = random_bytes::<{ Self::RANDOM_BYTES }>();
        format!("{}{}", Self::PREFIX, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// 32 random bytes as unpadded base64url (43 characters, 256 bits).
    fn token(&self) -> String {
        URL_SAFE_NO_PAD.encode(random_bytes::<{ Self::TOKEN_BYTES }>())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn shape() {
        let key = RandomSecrets.api_key();
        assert_eq!(key.len(), 44, "{key}");
        let body = key.strip_prefix("tfr_").unwrap();
        assert_eq!(body.len(), 40);
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn unique() {
        let keys: HashSet<String> = (0..1000).map(|_| RandomSecrets.api_key()).collect();
        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn token_shape_and_uniqueness() {
        let tokens: HashSet<String> = (0..1000).map(|_| RandomSecrets.token()).collect();
        assert_eq!(tokens.len(), 1000);
        for token in &tokens {
            assert_eq!(token.len(), 43, "{token}");
            let decoded = URL_SAFE_NO_PAD.decode(token).unwrap();
            assert_eq!(decoded.len(), 32);
        }
    }
}
