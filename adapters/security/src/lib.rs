//! tfr-security: the security adapters.
//!
//! - [`HmacUrlSigner`]: HMAC-SHA256 signatures for tfr's own short-lived download links.
//! - [`BcryptHasher`]: bcrypt hashing of API key secrets, off the async executor.
//! - [`RandomSecrets`]: API keys and tokens from the operating system's random number
//!   generator.
//! - [`JwtSessionCodec`]: browser session tokens (HS256 JWTs, strictly checked).
//! - [`ChaChaStateSealer`]: XChaCha20-Poly1305 sealing of browser-held login state.
//! - [`PgpSignatureVerifier`]: OpenPGP public keys and binary detached signatures over
//!   provider `SHA256SUMS` files, checked the way Terraform checks them.
//!
//! With the `test-support` feature, [`test_support`] generates signing keys and binary
//! detached signatures so other crates' tests need no `gpg`.

mod hasher;
mod pgp_verifier;
mod secrets;
mod session_token;
mod state_sealer;
mod url_signer;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use hasher::BcryptHasher;
pub use pgp_verifier::PgpSignatureVerifier;
pub use secrets::RandomSecrets;
pub use session_token::JwtSessionCodec;
pub use state_sealer::ChaChaStateSealer;
pub use url_signer::HmacUrlSigner;

/// A security adapter was configured with an unusable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityConfigError {
    #[error("the secret must be at least {min} bytes long (got {actual})")]
    SecretTooShort { min: usize, actual: usize },
    #[error("the bcrypt cost must be between {min} and {max} (got {actual})")]
    BcryptCost { min: u32, max: u32, actual: u32 },
}
