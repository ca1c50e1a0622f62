//! Browser session tokens: HS256 JWTs.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tfr_ports::driven::{SessionClaims, SessionTokenCodec, TokenError};

use crate::SecurityConfigError;

/// Signs session tokens with HMAC-SHA256 (`alg: HS256`) and checks them strictly:
/// only HS256 is accepted (no `none`, no other HMAC size, no public-key algorithm that
/// could be confused with the secret), `iss` must be `tfr`, `aud` must be `tfr-session`,
/// `sub`, `exp`, `iss` and `aud` must be present, and `exp` is checked against the wall
/// clock with no leeway.
///
/// The secret is used as the HMAC key as is; other uses of the same configured secret
/// derive their own keys (see [`crate::ChaChaStateSealer`]). Tokens never reach a log
/// from here, and `Debug` redacts the key.
#[derive(Clone)]
pub struct JwtSessionCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// The token's claims on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    sub: uuid::Uuid,
    jti: String,
    csrf: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

impl JwtSessionCodec {
    /// Shortest secret accepted: 32 bytes, the HMAC-SHA256 output size (RFC 7518 §3.2).
    pub const MIN_SECRET_BYTES: usize = 32;
    pub const ISSUER: &'static str = "tfr";
    pub const AUDIENCE: &'static str = "tfr-session";
    /// Longer tokens are refused before any parsing (ours are about 300 bytes).
    pub const MAX_TOKEN_BYTES: usize = 4096;

    pub fn new(secret: &[u8]) -> Result<Self, SecurityConfigError> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(SecurityConfigError::SecretTooShort {
                min: Self::MIN_SECRET_BYTES,
                actual: secret.len(),
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.reject_tokens_expiring_in_less_than = 0;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.validate_aud = true;
        validation.set_issuer(&[Self::ISSUER]);
        validation.set_audience(&[Self::AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }
}

impl std::fmt::Debug for JwtSessionCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSessionCodec")
            .field("algorithm", &"HS256")
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SessionTokenCodec for JwtSessionCodec {
    fn issue(&self, claims: &SessionClaims) -> String {
        let wire = WireClaims {
            sub: claims.subject,
            jti: claims.jti.clone(),
            csrf: claims.csrf.clone(),
            iat: claims.issued_at,
            exp: claims.expires_at,
            iss: Self::ISSUER.to_string(),
            aud: Self::AUDIENCE.to_string(),
        };
        // HS256 over a serializable struct with a valid HMAC key cannot fail; should it
        // ever, the empty token simply never verifies.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &wire, &self.encoding)
            .unwrap_or_default()
    }

    fn verify(&self, token: &str) -> Result<SessionClaims, TokenError> {
        if token.is_empty() || token.len() > Self::MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let data = jsonwebtoken::decode::<WireClaims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                // Only reported after the signature, algorithm and claim shapes checked out.
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if data.header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let c = data.claims;
        Ok(SessionClaims {
            subject: c.sub,
            jti: c.jti,
            csrf: c.csrf,
            issued_at: c.iat,
            expires_at: c.exp,
        })
    }
}
