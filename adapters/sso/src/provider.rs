//! [`OidcProvider`]: the authorization-code flow with PKCE, state and nonce, over
//! openidconnect, for a generic OpenID provider or Azure AD.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClientAuthMethod, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::reqwest;
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use serde_json::{Map, Value};
use tfr_ports::driven::{AuthorizationRequest, ExternalIdentity, IdentityProvider, SsoError};

use crate::claims::{self, ClaimRules};
use crate::config::{AzureAdConfig, OidcConfig};
use crate::http::{self, discovery_error, token_error, userinfo_error};
use crate::id_token::{ExtraClaims, OidcClient, VerifyFailure, verify_id_token};

/// At most one JWKS re-fetch for an unknown key id in this interval (the first is free).
const MIN_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Oidc,
    AzureAd,
}

/// One OpenID provider: generic OIDC ([`OidcProvider::discover`]) or Azure AD
/// ([`OidcProvider::discover_azure`]). Holds the discovered metadata and JWKS; a token
/// signed with a key id the cached JWKS lacks triggers one re-discovery (key rotation).
pub struct OidcProvider {
    id: String,
    display_name: String,
    flavor: Flavor,
    issuer_url: String,
    client_id: ClientId,
    client_secret: ClientSecret,
    scopes: Vec<Scope>,
    rules: ClaimRules,
    http: reqwest::Client,
    metadata: RwLock<Arc<CoreProviderMetadata>>,
    last_key_refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("id", &self.id)
            .field("kind", &self.kind())
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

fn invalid_config(message: impl std::fmt::Display) -> SsoError {
    SsoError::Rejected(format!("invalid SSO configuration: {message}"))
}

impl OidcProvider {
    /// Fetches `{issuer}/.well-known/openid-configuration` and the JWKS. A provider that
    /// cannot be reached, or whose documents are invalid, is `Unavailable`; a configuration
    /// that can never work (empty client id, bad URL) is `Rejected`.
    pub async fn discover(config: OidcConfig) -> Result<Self, SsoError> {
        let rules = ClaimRules::for_oidc(&config);
        Self::discover_flavor(
            Flavor::Oidc,
            config.id,
            config.display_name,
            config.issuer_url,
            config.client_id,
            config.client_secret,
            config.scopes,
            rules,
        )
        .await
    }

    /// Azure AD: discovery at `{authority_host}/{tenant_id}/v2.0`, scopes
    /// `openid profile email`, the user keyed by `oid`, `tid` checked.
    pub async fn discover_azure(config: AzureAdConfig) -> Result<Self, SsoError> {
        claims::validate_tenant_id(&config.tenant_id).map_err(invalid_config)?;
        let rules = ClaimRules::for_azure(&config);
        let issuer = config.issuer_url();
        Self::discover_flavor(
            Flavor::AzureAd,
            config.id,
            config.display_name,
            issuer,
            config.client_id,
            config.client_secret,
            crate::config::default_scopes(),
            rules,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn discover_flavor(
        flavor: Flavor,
        id: String,
        display_name: String,
        issuer_url: String,
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
        rules: ClaimRules,
    ) -> Result<Self, SsoError> {
        if id.trim().is_empty() {
            return Err(invalid_config("the provider id is empty"));
        }
        if client_id.trim().is_empty() {
            return Err(invalid_config("the client id is empty"));
        }
        if client_secret.is_empty() {
            return Err(invalid_config("the client secret is empty"));
        }
        let issuer_url = issuer_url.trim().to_string();
        let parsed = url::Url::parse(&issuer_url)
            .map_err(|e| invalid_config(format!("issuer URL {issuer_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(invalid_config(format!(
                "issuer URL {issuer_url:?} is not http(s)"
            )));
        }
        let http = http::http_client()?;
        let metadata = fetch_metadata(&http, &issuer_url).await?;
        if metadata.token_endpoint().is_none() {
            return Err(SsoError::Unavailable(format!(
                "the discovery document of {issuer_url} has no token_endpoint"
            )));
        }
        tracing::info!(provider = %id, issuer = %metadata.issuer().as_str(), "OpenID provider discovered");
        let scopes = scopes
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "openid")
            .map(Scope::new)
            .collect();
        Ok(Self {
            id,
            display_name,
            flavor,
            issuer_url,
            client_id: ClientId::new(client_id),
            client_secret: ClientSecret::new(client_secret),
            scopes,
            rules,
            http,
            metadata: RwLock::new(Arc::new(metadata)),
            last_key_refresh: Mutex::new(None),
        })
    }

    /// The issuer as the provider spells it.
    pub fn issuer(&self) -> String {
        self.current_metadata().issuer().to_string()
    }

    fn current_metadata(&self) -> Arc<CoreProviderMetadata> {
        self.metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn client(
        &self,
        metadata: &CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<OidcClient, SsoError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| {
            SsoError::Rejected(format!("invalid redirect URI {redirect_uri:?}: {e}"))
        })?;
        let client = OidcClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(self.auth_type(metadata));
        Ok(client)
    }

    /// `client_secret_basic` (the OIDC default) unless the provider offers only
    /// `client_secret_post`. Azure AD always gets `client_secret_post`: oauth2 URL-encodes
    /// Basic credentials (RFC 6749), and Azure secrets often hold `~`, which Azure would then
    /// not recognise.
    fn auth_type(&self, metadata: &CoreProviderMetadata) -> AuthType {
        if self.flavor == Flavor::AzureAd {
            return AuthType::RequestBody;
        }
        match metadata.token_endpoint_auth_methods_supported() {
            Some(methods)
                if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        }
    }

    /// Re-discovers after an unknown key id, at most once per
    /// [`MIN_KEY_REFRESH_INTERVAL`]; `Ok(false)` when skipped.
    async fn refresh_keys(&self) -> Result<bool, SsoError> {
        {
            let mut last = self
                .last_key_refresh
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < MIN_KEY_REFRESH_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        tracing::info!(provider = %self.id, "ID token signed by an unknown key: re-fetching the provider's metadata and JWKS");
        let metadata = fetch_metadata(&self.http, &self.issuer_url).await?;
        *self.metadata.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(metadata);
        Ok(true)
    }

    /// Fills configured claims the ID token lacks from userinfo (generic OIDC only; Azure's
    /// userinfo lives on Microsoft Graph and adds nothing the ID token cannot carry).
    async fn merge_userinfo(
        &self,
        client: &OidcClient,
        access_token: &AccessToken,
        claims: &mut Map<String, Value>,
    ) -> Result<(), SsoError> {
        if self.flavor != Flavor::Oidc || client.user_info_url().is_none() {
            return Ok(());
        }
        let missing = self.rules.missing_claims(claims);
        let Some(subject) = claims::string_claim(claims, "sub") else {
            return Ok(());
        };
        if missing.is_empty() {
            return Ok(());
        }
        let request =
            match client.user_info(access_token.clone(), Some(SubjectIdentifier::new(subject))) {
                Ok(request) => request,
                Err(_) => return Ok(()),
            };
        let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = match request
            .request_async(&self.http)
            .await
        {
            Ok(info) => info,
            Err(err) => {
                let note = userinfo_error(err)?;
                tracing::warn!(provider = %self.id, problem = %note, "userinfo failed; using the ID token's claims only");
                return Ok(());
            }
        };
        let Ok(Value::Object(info)) = serde_json::to_value(&info) else {
            return Ok(());
        };
        for name in missing {
            let key = if info.contains_key(&name) {
                name.as_str()
            } else {
                name.split('.').next().unwrap_or(&name)
            };
            let absent = claims.get(key).is_none_or(Value::is_null);
            if absent && let Some(value) = info.get(key).filter(|v| !v.is_null()) {
                claims.insert(key.to_string(), value.clone());
            }
        }
        Ok(())
    }
}

/// Discovery with the issuer as configured; when the provider spells it with (or without)
/// a trailing slash, the other spelling is tried once (Auth0 ends its issuer with `/`).
async fn fetch_metadata(
    http: &reqwest::Client,
    issuer_url: &str,
) -> Result<CoreProviderMetadata, SsoError> {
    let issuer = IssuerUrl::new(issuer_url.to_string())
        .map_err(|e| invalid_config(format!("issuer URL {issuer_url:?}: {e}")))?;
    match CoreProviderMetadata::discover_async(issuer, http).await {
        Ok(metadata) => Ok(metadata),
        Err(openidconnect::DiscoveryError::Validation(message))
            if message.contains("unexpected issuer") =>
        {
            let other = match issuer_url.strip_suffix('/') {
                Some(without) => without.to_string(),
                None => format!("{issuer_url}/"),
            };
            let differs_only_by_slash = message.contains(&format!("`{other}`"));
            if differs_only_by_slash && let Ok(issuer) = IssuerUrl::new(other.clone()) {
                return CoreProviderMetadata::discover_async(issuer, http)
                    .await
                    .map_err(|e| discovery_error(&other, e));
            }
            Err(discovery_error(
                issuer_url,
                openidconnect::DiscoveryError::Validation(message),
            ))
        }
        Err(err) => Err(discovery_error(issuer_url, err)),
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    fn kind(&self) -> &str {
        match self.flavor {
            Flavor::Oidc => "oidc",
            Flavor::AzureAd => "azure_ad",
        }
    }

    async fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, SsoError> {
        let metadata = self.current_metadata();
        let client = self.client(&metadata, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.scopes {
            request = request.add_scope(scope.clone());
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, SsoError> {
        if code.is_empty() {
            return Err(SsoError::Rejected("no authorization code".into()));
        }
        if nonce.is_empty() || pkce_verifier.is_empty() {
            return Err(SsoError::Rejected(
                "the login lost its nonce or PKCE verifier".into(),
            ));
        }
        let metadata = self.current_metadata();
        let client = self.client(&metadata, redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SsoError::Unavailable(format!("cannot exchange the code: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = response.id_token().ok_or_else(|| {
            SsoError::Rejected(
                "the token response has no ID token (was the openid scope granted?)".into(),
            )
        })?;
        let nonce = Nonce::new(nonce.to_string());
        let access_token = response.access_token();
        let (client, mut claims) = match verify_id_token(&client, id_token, &nonce, access_token) {
            Ok(claims) => (client, claims),
            Err(VerifyFailure::Rejected(err)) => return Err(err),
            Err(VerifyFailure::UnknownKey) => {
                let unknown = || {
                    SsoError::Rejected(
                        "the ID token is not valid: no key of the provider's JWKS matches its signature key".into(),
                    )
                };
                if !self.refresh_keys().await? {
                    return Err(unknown());
                }
                let metadata = self.current_metadata();
                let client = self.client(&metadata, redirect_uri)?;
                match verify_id_token(&client, id_token, &nonce, access_token) {
                    Ok(claims) => (client, claims),
                    Err(VerifyFailure::UnknownKey) => return Err(unknown()),
                    Err(VerifyFailure::Rejected(err)) => return Err(err),
                }
            }
        };
        self.merge_userinfo(&client, access_token, &mut claims)
            .await?;
        let identity = claims::map_claims(&claims, &self.rules)?;
        tracing::debug!(provider = %self.id, subject = %identity.subject, groups = identity.groups.len(), "SSO identity verified");
        Ok(identity)
    }
}
