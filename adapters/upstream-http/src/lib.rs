//! tfr-upstream-http: the `UpstreamRegistry` port over HTTPS with reqwest.
//!
//! - Service discovery (`https://{host}/.well-known/terraform.json`, `providers.v1`),
//!   cached per host for an hour; failures are not cached.
//! - Two clients: one for API calls and small documents (30 s), one for package
//!   downloads (10 min), both with a connect timeout and `User-Agent: tfr/<version>`.
//! - Retries with exponential backoff and jitter on connection errors, timeouts, 429 and
//!   5xx, honouring `Retry-After` up to [`UpstreamSettings::max_backoff`]. A download is
//!   retried only until its body starts.
//! - Trust: the system roots plus `SSL_CERT_FILE` plus [`UpstreamSettings::extra_ca_files`]
//!   (see `tls.rs`). reqwest picks the process's rustls crypto provider when one is
//!   installed and aws-lc-rs otherwise, so building a client never needs a process default.
//! - Logs (debug) show host, path, status and latency; never query strings or credentials.

mod documents;
mod http;
mod retry;
mod settings;
mod tls;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::TryStreamExt;
use reqwest::{Client, Url};
use tfr_core::{Platform, ProviderAddress, ProviderVersion, RegistryHost};
use tfr_ports::driven::{UpstreamError, UpstreamPackage, UpstreamRegistry, UpstreamVersion};
use tfr_ports::stream::ByteStream;

pub use settings::UpstreamSettings;

use http::{Step, Target};

/// How long a discovered `providers.v1` stays cached.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Largest discovery document read (Terraform's own limit).
const DISCOVERY_MAX_BYTES: u64 = 1024 * 1024;
/// Largest versions document read (registry.terraform.io's biggest are a few MiB).
const VERSIONS_MAX_BYTES: u64 = 32 * 1024 * 1024;
/// Largest download document read.
const PACKAGE_DOC_MAX_BYTES: u64 = 4 * 1024 * 1024;

const USER_AGENT: &str = concat!("tfr/", env!("CARGO_PKG_VERSION"));
const ACCEPT_JSON: &str = "application/json";
const ACCEPT_ANY: &str = "*/*";

/// Why [`HttpUpstreamRegistry::new`] failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamInitError {
    #[error("SSL_CERT_FILE={}: {reason}", path.display())]
    SslCertFile { path: PathBuf, reason: String },
    #[error("extra CA file {}: {reason}", path.display())]
    BadCaFile { path: PathBuf, reason: String },
    #[error("building the upstream HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The Provider Registry Protocol client.
pub struct HttpUpstreamRegistry {
    api: Client,
    downloads: Client,
    settings: UpstreamSettings,
    discovery: Mutex<HashMap<RegistryHost, (Url, Instant)>>,
}

impl std::fmt::Debug for HttpUpstreamRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUpstreamRegistry")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HttpUpstreamRegistry {
    /// Builds both clients. Reads `SSL_CERT_FILE` (and the CA files) now: a missing or
    /// unreadable file is an error, so misconfiguration shows at startup.
    pub fn new(settings: UpstreamSettings) -> Result<Self, UpstreamInitError> {
        let roots = tls::extra_roots(&tls::CertEnv::from_process(), &settings.extra_ca_files)?;
        let builder = |timeout: Duration| {
            Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(settings.connect_timeout)
                .timeout(timeout)
                .tls_certs_merge(roots.iter().cloned())
                .build()
                .map_err(UpstreamInitError::Client)
        };
        Ok(Self {
            api: builder(settings.api_timeout)?,
            downloads: builder(settings.download_timeout)?,
            discovery: Mutex::new(HashMap::new()),
            settings,
        })
    }

    pub fn settings(&self) -> &UpstreamSettings {
        &self.settings
    }

    /// GET `target` through the API client, retried, body capped at `max` bytes.
    /// Returns the final URL (after redirects) and the body.
    async fn get_document(
        &self,
        target: &Target,
        accept: &str,
        max: u64,
        not_found: &str,
    ) -> Result<(Url, Vec<u8>), UpstreamError> {
        http::with_retries(
            target,
            self.settings.max_attempts,
            self.settings.max_backoff,
            |n| async move {
                match http::send(&self.api, target, accept, n, not_found).await {
                    Ok(response) => http::read_capped(target, response, max).await,
                    Err(step) => step,
                }
            },
        )
        .await
    }

    /// `providers.v1` of `host`, from the cache or discovered.
    async fn providers_base(&self, host: &RegistryHost) -> Result<Url, UpstreamError> {
        if let Some(base) = self.cached_base(host) {
            return Ok(base);
        }
        let url =
            Url::parse(&format!("https://{host}/.well-known/terraform.json")).map_err(|e| {
                UpstreamError::Protocol {
                    host: host.to_string(),
                    reason: format!("cannot build the discovery URL: {e}"),
                }
            })?;
        let target = Target::new(url);
        let no_registry = format!("host {host} does not offer a Terraform provider registry");
        let (final_url, body) = self
            .get_document(&target, ACCEPT_JSON, DISCOVERY_MAX_BYTES, &no_registry)
            .await?;
        let base = match documents::providers_base(&final_url, &body) {
            Ok(Some(base)) => base,
            Ok(None) => return Err(UpstreamError::NotFound(no_registry)),
            Err(reason) => {
                return Err(UpstreamError::Protocol {
                    host: host.to_string(),
                    reason,
                });
            }
        };
        tracing::debug!(%host, providers_v1 = %Target::new(base.clone()).redacted, "discovered upstream registry");
        self.discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.clone(), (base.clone(), Instant::now()));
        Ok(base)
    }

    fn cached_base(&self, host: &RegistryHost) -> Option<Url> {
        let mut cache = self.discovery.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(host) {
            Some((base, at)) if at.elapsed() < DISCOVERY_TTL => Some(base.clone()),
            Some(_) => {
                cache.remove(host);
                None
            }
            None => None,
        }
    }

    fn endpoint(host: &RegistryHost, base: &Url, path: &str) -> Result<Target, UpstreamError> {
        base.join(path)
            .map(Target::new)
            .map_err(|e| UpstreamError::Protocol {
                host: host.to_string(),
                reason: format!("cannot build {path} under providers.v1: {e}"),
            })
    }
}

#[async_trait]
impl UpstreamRegistry for HttpUpstreamRegistry {
    async fn provider_versions(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Vec<UpstreamVersion>, UpstreamError> {
        let base = self.providers_base(host).await?;
        let target = Self::endpoint(host, &base, &format!("{address}/versions"))?;
        let not_found =
            format!("provider registry {host} does not have a provider named {host}/{address}");
        let (_, body) = self
            .get_document(&target, ACCEPT_JSON, VERSIONS_MAX_BYTES, &not_found)
            .await?;
        documents::versions(&body).map_err(|reason| target.protocol(reason))
    }

    async fn package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
    ) -> Result<UpstreamPackage, UpstreamError> {
        let base = self.providers_base(host).await?;
        let path = format!(
            "{address}/{version}/download/{}/{}",
            platform.os(),
            platform.arch()
        );
        let target = Self::endpoint(host, &base, &path)?;
        let not_found = format!(
            "provider {host}/{address} {version} is not available for {platform} on {host}"
        );
        let (final_url, body) = self
            .get_document(&target, ACCEPT_JSON, PACKAGE_DOC_MAX_BYTES, &not_found)
            .await?;
        documents::package(&final_url, platform, &body).map_err(|reason| target.protocol(reason))
    }

    async fn fetch_document(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, UpstreamError> {
        let target = http::parse_url(url)?;
        let not_found = format!(
            "upstream {} has no document {}",
            target.host, target.redacted
        );
        let (_, body) = self
            .get_document(&target, ACCEPT_ANY, max_bytes, &not_found)
            .await?;
        Ok(body)
    }

    async fn download(&self, url: &str) -> Result<ByteStream, UpstreamError> {
        let target = http::parse_url(url)?;
        let not_found = format!(
            "upstream {} has no package {}",
            target.host, target.redacted
        );
        let response = http::with_retries(
            &target,
            self.settings.max_attempts,
            self.settings.max_backoff,
            |n| {
                let target = &target;
                let not_found = not_found.as_str();
                async move {
                    match http::send(&self.downloads, target, ACCEPT_ANY, n, not_found).await {
                        Ok(response) => Step::Done(response),
                        Err(step) => step,
                    }
                }
            },
        )
        .await?;
        let redacted = target.redacted;
        let stream = response.bytes_stream().map_err(move |err| {
            std::io::Error::other(format!(
                "download from {redacted} failed: {}",
                http::describe(&err)
            ))
        });
        Ok(Box::pin(stream))
    }
}
