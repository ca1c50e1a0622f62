//! Random API keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{RngCore, TryRngCore};
use tfr_ports::driven::SecretGenerator;

/// `tfr_` followed by 30 random bytes as unpadded base64url (40 characters, 240 bits),
/// read from the operating system's generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

impl RandomSecrets {
    pub const PREFIX: &'static str = "tfr_";
    const RANDOM_BYTES: usize = 30;
}

impl SecretGenerator for RandomSecrets {
    fn api_key(&self) -> String {
        let mut bytes = [0u8; Self::RANDOM_BYTES];
        if rand::rngs::OsRng.try_fill_bytes(&mut bytes).is_err() {
            // The thread-local generator is a CSPRNG seeded from the OS as well.
            rand::rng().fill_bytes(&mut bytes);
        }
        format!("{}{}", Self::PREFIX, URL_SAFE_NO_PAD.encode(bytes))
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
}
