//! The configured SSO providers. Discovery (the provider's metadata and keys) happens on
//! first use and is retried on later logins while it fails, so an identity provider that
//! is down when tfr starts only delays sign-in; it never stops the registry serving
//! `terraform init`.

use std::sync::Arc;

use async_trait::async_trait;
use tfr_ports::driven::{AuthorizationRequest, ExternalIdentity, IdentityProvider, SsoError};
use tfr_sso::{AzureAdConfig, AzureGroupsClaim, OidcConfig, OidcProvider};
use tokio::sync::OnceCell;

use crate::config::AuthSettings;

enum Pending {
    Oidc(OidcConfig),
    Azure(AzureAdConfig),
}

/// An [`OidcProvider`] discovered on first use.
pub struct LazyProvider {
    id: String,
    display_name: String,
    kind: &'static str,
    config: Pending,
    provider: OnceCell<OidcProvider>,
}

impl LazyProvider {
    async fn get(&self) -> Result<&OidcProvider, SsoError> {
        self.provider
            .get_or_try_init(|| async {
                let found = match &self.config {
                    Pending::Oidc(c) => OidcProvider::discover(c.clone()).await,
                    Pending::Azure(c) => OidcProvider::discover_azure(c.clone()).await,
                };
                match &found {
                    Ok(p) => tracing::info!(provider = %self.id, issuer = %p.issuer(), "SSO provider discovered"),
                    Err(err) => tracing::warn!(provider = %self.id, error = %err, "SSO provider discovery failed; retried at the next login"),
                }
                found
            })
            .await
    }

    /// Discovers now (at startup), logging a failure instead of returning it.
    pub async fn warm_up(&self) {
        let _ = self.get().await;
    }
}

#[async_trait]
impl IdentityProvider for LazyProvider {
    fn id(&self) -> &str {
        &self.id
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn kind(&self) -> &str {
        self.kind
    }
    async fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, SsoError> {
        self.get().await?.authorization_request(redirect_uri).await
    }
    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, SsoError> {
        self.get()
            .await?
            .complete(redirect_uri, code, pkce_verifier, nonce)
            .await
    }
}

/// The providers the settings turn on (OIDC, Azure AD, both or none), each discovered in
/// the background right away. A tenant id that can never work stops startup.
pub async fn providers(
    auth: &AuthSettings,
    public_url: &str,
) -> anyhow::Result<Vec<Arc<dyn IdentityProvider>>> {
    let mut out: Vec<Arc<LazyProvider>> = Vec::new();
    if let Some(o) = &auth.oidc {
        let mut config = OidcConfig::new(&o.issuer_url, &o.client_id, o.client_secret.expose());
        config.display_name = o.display_name.clone();
        config.scopes = o.scopes.clone();
        config.username_claim = o.username_claim.clone();
        config.email_claim = o.email_claim.clone();
        config.groups_claim = o.groups_claim.clone();
        config.require_verified_email = o.require_verified_email;
        out.push(Arc::new(LazyProvider {
            id: config.id.clone(),
            display_name: config.display_name.clone(),
            kind: "oidc",
            config: Pending::Oidc(config),
            provider: OnceCell::new(),
        }));
    }
    if let Some(a) = &auth.azure {
        tfr_sso::claims::validate_tenant_id(&a.tenant_id)
            .map_err(|e| anyhow::anyhow!("TFR_AZURE_TENANT_ID: {e}"))?;
        let mut config = AzureAdConfig::new(&a.tenant_id, &a.client_id, a.client_secret.expose());
        config.display_name = a.display_name.clone();
        config.authority_host = a.authority_host.clone();
        config.groups_claim = a
            .groups_claim
            .parse::<AzureGroupsClaim>()
            .map_err(|e| anyhow::anyhow!("TFR_AZURE_GROUPS_CLAIM: {e}"))?;
        out.push(Arc::new(LazyProvider {
            id: config.id.clone(),
            display_name: config.display_name.clone(),
            kind: "azure_ad",
            config: Pending::Azure(config),
            provider: OnceCell::new(),
        }));
    }
    if !out.is_empty() {
        tracing::info!(
            redirect_uri = %format!("{public_url}/api/v1/auth/callback"),
            "SSO enabled; register this redirect URI with the identity provider"
        );
    }
    for provider in &out {
        let provider = provider.clone();
        tokio::spawn(async move { provider.warm_up().await });
    }
    Ok(out
        .into_iter()
        .map(|p| p as Arc<dyn IdentityProvider>)
        .collect())
}
