//! `terraform login` (login.v1): an OAuth 2.0 authorization-code grant with PKCE (S256)
//! for the public client `terraform-cli`. The authorization endpoint needs a signed-in
//! browser session; the token endpoint turns a single-use code into an API key owned by
//! that user (named after the login, listed and revocable like any key).

use std::ops::Range;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::driven::{Clock, KeyOwner, LoginCodeRecord, LoginCodeRepository, SecretGenerator};
use crate::service::{ApiKeys, Authenticator, ServiceError};

/// The only client: Terraform and OpenTofu both send this id.
pub const TERRAFORM_CLIENT_ID: &str = "terraform-cli";
/// How long terraform has to come back with the code.
const CODE_TTL: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerraformLoginSettings {
    /// Callback ports terraform may listen on (advertised in discovery). Terraform never
    /// picks the end of the range, so it must hold at least two ports.
    pub ports: Range<u16>,
    /// Lifetime of the tokens issued (terraform cannot refresh; users log in again).
    pub token_lifetime: Duration,
}

impl Default for TerraformLoginSettings {
    fn default() -> Self {
        Self {
            ports: 10000..10010,
            token_lifetime: Duration::days(90),
        }
    }
}

/// The query of the authorization request.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAuthorize {
    pub redirect_uri: String,
    pub code_challenge: String,
    pub state: Option<String>,
}

/// Why an authorization request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Client or redirect URI not acceptable: answered directly, never redirected (the
    /// redirect target cannot be trusted).
    NotRedirectable(String),
    /// Answered by redirecting to the client with `error` (RFC 6749 4.1.2.1).
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// The form of the token request.
#[derive(Debug, Clone, Default)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
}

/// An OAuth error answer (`{"error": ...}` with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// A token handed to terraform.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub key_id: Uuid,
    pub user_id: Uuid,
}

pub struct TerraformLogin {
    codes: Arc<dyn LoginCodeRepository>,
    api_keys: Arc<ApiKeys>,
    authenticator: Arc<Authenticator>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
    settings: TerraformLoginSettings,
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// RFC 7636 4.1: 43-128 characters of `[A-Za-z0-9-._~]`.
fn valid_pkce_text(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl TerraformLogin {
    pub fn new(
        codes: Arc<dyn LoginCodeRepository>,
        api_keys: Arc<ApiKeys>,
        authenticator: Arc<Authenticator>,
        secrets: Arc<dyn SecretGenerator>,
        clock: Arc<dyn Clock>,
        settings: TerraformLoginSettings,
    ) -> Self {
        Self {
            codes,
            api_keys,
            authenticator,
            secrets,
            clock,
            settings,
        }
    }

    pub fn settings(&self) -> &TerraformLoginSettings {
        &self.settings
    }

    /// `http://localhost:<port in range>/login`, exactly as terraform sends it.
    fn valid_redirect(&self, uri: &str) -> bool {
        let Some(rest) = uri.strip_prefix("http://localhost:") else {
            return false;
        };
        let Some(port) = rest.strip_suffix("/login") else {
            return false;
        };
        // Digits only: `u16::from_str` would also take a leading `+`.
        !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port
                .parse::<u16>()
                .is_ok_and(|p| self.settings.ports.contains(&p))
    }

    /// Checks the authorization request before anyone signs in.
    pub fn validate(&self, params: &AuthorizeParams) -> Result<ValidAuthorize, AuthorizeError> {
        if params.client_id.as_deref() != Some(TERRAFORM_CLIENT_ID) {
            return Err(AuthorizeError::NotRedirectable(format!(
                "unknown client_id (expected {TERRAFORM_CLIENT_ID})"
            )));
        }
        let redirect_uri = match params.redirect_uri.as_deref() {
            Some(uri) if self.valid_redirect(uri) => uri.to_string(),
            _ => {
                return Err(AuthorizeError::NotRedirectable(format!(
                    "redirect_uri must be http://localhost:PORT/login with PORT in {}-{}",
                    self.settings.ports.start,
                    self.settings.ports.end.saturating_sub(1)
                )));
            }
        };
        let fail = |error, description: &str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.to_string(),
            state: params.state.clone(),
        };
        if params.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if params.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        let challenge = match params.code_challenge.as_deref() {
            Some(c) if c.len() == 43 && valid_pkce_text(c) => c.to_string(),
            _ => {
                return Err(fail(
                    "invalid_request",
                    "code_challenge must be BASE64URL(SHA256(verifier))",
                ));
            }
        };
        Ok(ValidAuthorize {
            redirect_uri,
            code_challenge: challenge,
            state: params.state.clone(),
        })
    }

    /// A single-use code for the signed-in user; returns the redirect back to terraform.
    pub async fn issue_code(
        &self,
        request: &ValidAuthorize,
        user_id: Uuid,
    ) -> Result<String, ServiceError> {
        let code = self.secrets.token();
        self.codes
            .insert(&LoginCodeRecord {
                code_hash: code_hash(&code),
                user_id,
                client_id: TERRAFORM_CLIENT_ID.to_string(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                expires_at: self.clock.now() + CODE_TTL,
            })
            .await?;
        let mut url = format!("{}?code={}", request.redirect_uri, code);
        if let Some(state) = &request.state {
            url.push_str("&state=");
            url.push_str(&percent_encode(state));
        }
        Ok(url)
    }

    /// The token request: code, PKCE verifier, client id and redirect URI all checked.
    pub async fn exchange(&self, params: &TokenParams) -> Result<IssuedToken, TokenFailure> {
        if params.grant_type.as_deref() != Some("authorization_code") {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "grant_type must be authorization_code",
            )
            .into());
        }
        let (Some(code), Some(verifier)) =
            (params.code.as_deref(), params.code_verifier.as_deref())
        else {
            return Err(
                OAuthError::new("invalid_request", "code and code_verifier are required").into(),
            );
        };
        // Taken first: a code is spent by any attempt, right or wrong.
        let Some(record) = self.codes.take(&code_hash(code)).await? else {
            return Err(OAuthError::new(
                "invalid_grant",
                "the code is unknown or was already used",
            )
            .into());
        };
        if record.expires_at <= self.clock.now() {
            return Err(OAuthError::new("invalid_grant", "the code has expired").into());
        }
        if params.client_id.as_deref() != Some(record.client_id.as_str()) {
            return Err(OAuthError::new(
                "invalid_client",
                "client_id does not match the authorization request",
            )
            .into());
        }
        if params.redirect_uri.as_deref() != Some(record.redirect_uri.as_str()) {
            return Err(OAuthError::new(
                "invalid_grant",
                "redirect_uri does not match the authorization request",
            )
            .into());
        }
        if !valid_pkce_text(verifier) {
            return Err(OAuthError::new(
                "invalid_request",
                "code_verifier is not a valid PKCE verifier",
            )
            .into());
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !bool::from(computed.as_bytes().ct_eq(record.code_challenge.as_bytes())) {
            return Err(OAuthError::new(
                "invalid_grant",
                "code_verifier does not match code_challenge",
            )
            .into());
        }
        let scopes = match self.authenticator.fresh_grants(record.user_id).await? {
            Some(grants) => grants.scopes_anywhere(),
            None => {
                return Err(
                    OAuthError::new("invalid_grant", "the account is disabled or gone").into(),
                );
            }
        };
        if scopes.is_empty() {
            return Err(OAuthError::new(
                "invalid_grant",
                "your account has no role in any organization yet; ask an administrator",
            )
            .into());
        }
        let now = self.clock.now();
        let name = format!("terraform login {}", now.format("%Y-%m-%d %H:%M UTC"));
        let created = self
            .api_keys
            .create(
                KeyOwner::User(record.user_id),
                &name,
                scopes,
                Some(now + self.settings.token_lifetime),
            )
            .await?;
        Ok(IssuedToken {
            access_token: created.secret,
            key_id: created.record.id,
            user_id: record.user_id,
        })
    }

    pub async fn purge_expired(&self) -> Result<u64, ServiceError> {
        Ok(self.codes.purge_expired(self.clock.now()).await?)
    }
}

/// Why a token request failed: an OAuth error (400) or our own failure.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::driven::RepoError> for TokenFailure {
    fn from(err: crate::driven::RepoError) -> Self {
        TokenFailure::Service(err.into())
    }
}

/// Query-component encoding for values we echo back (the client's `state`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
