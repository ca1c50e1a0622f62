//! Security ports: link signing, secret hashing, secret generation, OpenPGP verification.

use async_trait::async_trait;

/// Signs and checks tfr's own download links (HMAC over the blob key and expiry).
pub trait UrlSigner: Send + Sync {
    /// A URL-safe signature of `key` valid until `expires` (unix seconds).
    fn sign(&self, key: &str, expires: i64) -> String;
    /// Constant-time check of a presented signature.
    fn verify(&self, key: &str, expires: i64, signature: &str) -> bool;
}

/// Slow password-style hashing for API key secrets. Implementations run the work off the
/// async executor.
#[async_trait]
pub trait SecretHasher: Send + Sync {
    async fn hash(&self, secret: &str) -> Result<String, String>;
    async fn verify(&self, secret: &str, hash: &str) -> Result<bool, String>;
}

/// Random secrets (API keys).
pub trait SecretGenerator: Send + Sync {
    /// A new API key: `tfr_` followed by random URL-safe characters.
    fn api_key(&self) -> String;
    /// 32 random bytes, base64url without padding (session ids, CSRF tokens, login codes).
    fn token(&self) -> String;
}

/// A public key that verified a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyInfo {
    /// Upper-case hex long key ID of the primary key (what Terraform prints).
    pub key_id: String,
    /// Upper-case hex fingerprint of the primary key.
    pub fingerprint: String,
    /// The ASCII-armored public key as it will be served.
    pub ascii_armor: String,
    /// Compatibility problems with some Terraform versions (the key is still valid).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the public key is not a valid ASCII-armored OpenPGP public key: {0}")]
    BadKey(String),
    #[error("the signature is not a binary OpenPGP detached signature: {0}")]
    BadSignature(String),
    #[error("the signature does not verify with the given public key")]
    Mismatch,
}

pub trait SignatureVerifier: Send + Sync {
    /// Parses an ASCII-armored public key.
    fn parse_public_key(&self, armored: &str) -> Result<SigningKeyInfo, SignatureError>;
    /// Checks a binary detached `signature` over `data` against the key (primary or any
    /// signing subkey).
    fn verify_detached(
        &self,
        armored: &str,
        data: &[u8],
        signature: &[u8],
    ) -> Result<SigningKeyInfo, SignatureError>;
}

/// What a browser session token says. Scopes are deliberately absent: they are loaded
/// on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// The user id.
    pub subject: uuid::Uuid,
    /// Unique token id, for logout (the denylist).
    pub jti: String,
    /// Double-submit CSRF token: cookie-authenticated mutations must echo it in a header.
    pub csrf: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the session token has expired")]
    Expired,
    #[error("the session token is not valid")]
    Invalid,
}

/// Signs and checks session tokens (JWT, HS256). Synchronous: no I/O.
pub trait SessionTokenCodec: Send + Sync {
    fn issue(&self, claims: &SessionClaims) -> String;
    /// Signature, algorithm, issuer and expiry checked.
    fn verify(&self, token: &str) -> Result<SessionClaims, TokenError>;
}

/// Authenticated encryption for short-lived state kept by the browser (the pending SSO
/// login: state, nonce, PKCE verifier). Output is URL- and cookie-safe.
pub trait StateSealer: Send + Sync {
    fn seal(&self, plaintext: &[u8]) -> String;
    /// `None` when tampered with or sealed under another key.
    fn open(&self, sealed: &str) -> Option<Vec<u8>>;
}
