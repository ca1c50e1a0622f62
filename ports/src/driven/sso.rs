//! The SSO port: an OpenID Connect provider (generic OIDC, Azure AD) that signs a user in
//! with the authorization-code flow.

use async_trait::async_trait;

/// Where to send the browser, and what must come back to finish the login. The caller
/// keeps `state`, `nonce` and `pkce_verifier` (sealed, in a cookie) until the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A signed-in identity, after the ID token was validated and the claims mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The stable subject (`sub`; `oid` for Azure AD).
    pub subject: String,
    /// Lower-case.
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Group (or app role) names or ids from the configured claim.
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider refused or the answer failed validation (bad code, ID token
    /// signature, issuer, audience, nonce, expiry, unverified email...).
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be reached or answered garbage.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The configured id (`oidc`, `azure`), used in URLs and stored on users.
    fn id(&self) -> &str;
    /// Shown on the login page ("Sign in with ...").
    fn display_name(&self) -> &str;
    /// `oidc` or `azure_ad`.
    fn kind(&self) -> &str;
    /// A fresh authorization request (state, nonce, PKCE S256) for `redirect_uri`.
    async fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, SsoError>;
    /// Exchanges the code (with the PKCE verifier), validates the ID token against the
    /// issuer's JWKS and the expected nonce, and maps the claims.
    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, SsoError>;
}
