//! `AzureCredentials::ManagedIdentity`: an Entra ID token from the environment, through
//! azure_identity 0.21 (rustls; no OpenSSL).
//!
//! Sources, first that applies: workload identity (AKS: `AZURE_FEDERATED_TOKEN_FILE`,
//! `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`), App Service / Functions (`IDENTITY_ENDPOINT`),
//! the VM's system-assigned identity (IMDS). The SDK's workload credential reads the
//! token file once, but AKS rotates it; this one re-reads it whenever it needs a token.

use std::sync::Arc;
use std::time::Duration;

use azure_core::HttpClient;
use azure_core::auth::{AccessToken, TokenCredential};
use azure_core::error::{Error, ErrorKind};
use azure_identity::{
    AppServiceManagedIdentityCredential, TokenCredentialOptions,
    VirtualMachineManagedIdentityCredential, WorkloadIdentityCredential,
};
use time::OffsetDateTime;
use tokio::sync::Mutex;
use url::Url;

/// Refresh a cached token this long before it expires.
const EARLY_REFRESH: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
pub(crate) struct ManagedIdentity {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Workload(Workload),
    AppService(AppServiceManagedIdentityCredential),
    VirtualMachine(VirtualMachineManagedIdentityCredential),
}

#[derive(Debug)]
struct Workload {
    http: Arc<dyn HttpClient>,
    authority: Url,
    tenant_id: String,
    client_id: String,
    token_file: String,
    cached: Mutex<Option<AccessToken>>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ManagedIdentity {
    /// Picks the source from the environment (no network call).
    pub(crate) fn from_env(http: Arc<dyn HttpClient>) -> Result<Self, String> {
        let options = TokenCredentialOptions::from(http.clone());
        if let Some(token_file) = env("AZURE_FEDERATED_TOKEN_FILE") {
            let (Some(tenant_id), Some(client_id)) =
                (env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"))
            else {
                return Err(
                    "workload identity needs AZURE_TENANT_ID and AZURE_CLIENT_ID beside AZURE_FEDERATED_TOKEN_FILE"
                        .into(),
                );
            };
            let authority = options
                .authority_host()
                .map_err(|e| format!("AZURE_AUTHORITY_HOST: {e}"))?;
            return Ok(Self {
                source: Source::Workload(Workload {
                    http,
                    authority,
                    tenant_id,
                    client_id,
                    token_file,
                    cached: Mutex::new(None),
                }),
            });
        }
        if env("IDENTITY_ENDPOINT").is_some() {
            let credential = AppServiceManagedIdentityCredential::create(options)
                .map_err(|e| format!("App Service managed identity: {e}"))?;
            return Ok(Self {
                source: Source::AppService(credential),
            });
        }
        Ok(Self {
            source: Source::VirtualMachine(VirtualMachineManagedIdentityCredential::new(options)),
        })
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self.source {
            Source::Workload(_) => "workload identity",
            Source::AppService(_) => "App Service managed identity",
            Source::VirtualMachine(_) => "VM managed identity (IMDS)",
        }
    }
}

impl Workload {
    async fn token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_on > OffsetDateTime::now_utc() + EARLY_REFRESH
        {
            return Ok(token.clone());
        }
        let assertion = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| {
                Error::full(
                    ErrorKind::Credential,
                    e,
                    format!(
                        "reading the federated token file {} (AZURE_FEDERATED_TOKEN_FILE)",
                        self.token_file
                    ),
                )
            })?;
        let credential = WorkloadIdentityCredential::new(
            self.http.clone(),
            self.authority.clone(),
            self.tenant_id.clone(),
            self.client_id.clone(),
            assertion.trim().to_string(),
        );
        let token = credential.get_token(scopes).await?;
        *cached = Some(token.clone());
        Ok(token)
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentity {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        match &self.source {
            Source::Workload(w) => w.token(scopes).await,
            Source::AppService(c) => c.get_token(scopes).await,
            Source::VirtualMachine(c) => c.get_token(scopes).await,
        }
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        match &self.source {
            Source::Workload(w) => {
                *w.cached.lock().await = None;
                Ok(())
            }
            Source::AppService(c) => c.clear_cache().await,
            Source::VirtualMachine(c) => c.clear_cache().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use azure_core::headers::Headers;
    use azure_core::{Body, Request, Response, StatusCode};
    use bytes::Bytes;

    use super::*;

    /// Answers token requests like Entra ID, recording each client assertion.
    #[derive(Debug)]
    struct FakeEntra {
        assertions: StdMutex<Vec<String>>,
        expires_in: u64,
    }

    #[async_trait::async_trait]
    impl HttpClient for FakeEntra {
        async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
            let Body::Bytes(body) = request.body() else {
                return Err(Error::message(ErrorKind::Other, "streamed body"));
            };
            let assertion = url::form_urlencoded::parse(body)
                .find(|(k, _)| k == "client_assertion")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let mut seen = self.assertions.lock().unwrap_or_else(|e| e.into_inner());
            seen.push(assertion);
            let json = format!(
                r#"{{"token_type":"Bearer","expires_in":{0},"ext_expires_in":{0},"access_token":"token-{1}"}}"#,
                self.expires_in,
                seen.len()
            );
            let body = futures::stream::once(async move { Ok(Bytes::from(json)) });
            Ok(Response::new(
                StatusCode::Ok,
                Headers::new(),
                Box::pin(body),
            ))
        }
    }

    fn workload(dir: &tempfile::TempDir, expires_in: u64) -> (Workload, Arc<FakeEntra>) {
        let fake = Arc::new(FakeEntra {
            assertions: StdMutex::new(Vec::new()),
            expires_in,
        });
        let workload = Workload {
            http: fake.clone(),
            authority: Url::parse("https://login.example.invalid").expect("url"),
            tenant_id: "tenant".into(),
            client_id: "client".into(),
            token_file: dir.path().join("token").display().to_string(),
            cached: Mutex::new(None),
        };
        (workload, fake)
    }

    fn seen(fake: &FakeEntra) -> Vec<String> {
        fake.assertions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    #[tokio::test]
    async fn workload_identity_rereads_the_rotated_token_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (workload, fake) = workload(&dir, 3600);
        let file = dir.path().join("token");
        let scopes = ["https://storage.azure.com/.default"];

        std::fs::write(&file, "first-assertion\n").expect("write");
        let a = workload.token(&scopes).await.expect("token");
        let b = workload.token(&scopes).await.expect("token");
        assert_eq!(a.token.secret(), "token-1");
        assert_eq!(b.token.secret(), "token-1", "cached while fresh");
        assert_eq!(seen(&fake), ["first-assertion"]);

        // Kubernetes rotated the projected token; the next fetch sends the new one.
        std::fs::write(&file, "second-assertion").expect("write");
        let source = ManagedIdentity {
            source: Source::Workload(workload),
        };
        source.clear_cache().await.expect("clear");
        let c = source.get_token(&scopes).await.expect("token");
        assert_eq!(c.token.secret(), "token-2");
        assert_eq!(seen(&fake), ["first-assertion", "second-assertion"]);
    }

    #[tokio::test]
    async fn tokens_near_expiry_are_refreshed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (workload, fake) = workload(&dir, 60);
        std::fs::write(dir.path().join("token"), "assertion").expect("write");
        let scopes = ["https://storage.azure.com/.default"];
        workload.token(&scopes).await.expect("token");
        workload.token(&scopes).await.expect("token");
        assert_eq!(
            seen(&fake).len(),
            2,
            "a token expiring within minutes is not reused"
        );
    }

    #[tokio::test]
    async fn a_missing_token_file_is_a_credential_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (workload, _) = workload(&dir, 3600);
        let err = workload.token(&["s"]).await.expect_err("no file");
        assert_eq!(err.kind(), &ErrorKind::Credential);
    }
}
