//! Reading providers: the Provider Registry Protocol's versions and download, served
//! from the [`CatalogCache`].

use std::sync::Arc;

use tfr_core::{Platform, ProviderAddress, ProviderVersion};

use crate::driven::{
    ProviderListQuery, ProviderRepository, ProviderVersionRecord, ProviderWithVersions,
    SigningKeyRecord,
};
use crate::service::catalog_cache::{CachedProvider, CatalogCache};
use crate::service::{DownloadLinks, ServiceError};

/// Everything the download endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDownload {
    pub protocols: Vec<String>,
    pub platform: Platform,
    pub filename: String,
    pub download_url: String,
    pub shasums_url: String,
    pub shasums_signature_url: String,
    pub shasum: String,
    pub signing_key: SigningKeyRecord,
}

pub struct ProviderCatalog {
    providers: Arc<dyn ProviderRepository>,
    links: Arc<DownloadLinks>,
    cache: Arc<CatalogCache>,
}

fn not_found(address: &ProviderAddress) -> ServiceError {
    ServiceError::NotFound(format!("provider {address} not found"))
}

impl ProviderCatalog {
    pub fn new(
        providers: Arc<dyn ProviderRepository>,
        links: Arc<DownloadLinks>,
        cache: Arc<CatalogCache>,
    ) -> Self {
        Self {
            providers,
            links,
            cache,
        }
    }

    /// The provider with its versions: from the cache, or one query.
    async fn cached(
        &self,
        address: &ProviderAddress,
    ) -> Result<Option<Arc<CachedProvider>>, ServiceError> {
        let providers = &self.providers;
        let found = self
            .cache
            .provider(address, || async move {
                Ok(providers
                    .find_provider(address)
                    .await?
                    .map(CachedProvider::new))
            })
            .await?;
        Ok(found)
    }

    /// Every version, newest first, with protocols and (sorted) platforms. The same `Arc`
    /// comes back while the cache entry lives, so callers may memoise work keyed on it.
    pub async fn versions(
        &self,
        address: &ProviderAddress,
    ) -> Result<Arc<CachedProvider>, ServiceError> {
        self.cached(address)
            .await?
            .ok_or_else(|| not_found(address))
    }

    pub async fn download(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
    ) -> Result<ProviderDownload, ServiceError> {
        let cached = self.cached(address).await?;
        let fresh;
        let record: &ProviderVersionRecord = match cached
            .as_ref()
            .and_then(|p| p.version(&version.to_string()))
        {
            Some(record) => record,
            // Published on another replica since the entry was filled: ask the database.
            None => {
                fresh = self
                    .providers
                    .find_version(address, version)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::NotFound(format!(
                            "provider {address} version {version} not found"
                        ))
                    })?;
                &fresh
            }
        };
        let package = record
            .platforms
            .iter()
            .find(|p| &p.platform == platform)
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "provider {address} {version} is not available for {platform}"
                ))
            })?;
        Ok(ProviderDownload {
            protocols: record.protocols.clone(),
            platform: platform.clone(),
            filename: package.filename.clone(),
            download_url: self.links.link(&package.blob_key).await?,
            shasums_url: self.links.link(&record.shasums_key).await?,
            shasums_signature_url: self.links.link(&record.shasums_signature_key).await?,
            shasum: package.sha256.clone(),
            signing_key: record.signing_key.clone(),
        })
    }

    pub async fn list(
        &self,
        query: &ProviderListQuery,
    ) -> Result<(Vec<ProviderWithVersions>, bool), ServiceError> {
        let mut page = self.providers.list(query).await?;
        for item in &mut page.items {
            item.versions
                .sort_by_cached_key(|v| std::cmp::Reverse(ProviderVersion::parse(&v.version).ok()));
        }
        Ok((page.items, page.has_more))
    }
}
