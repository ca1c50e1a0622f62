//! Reading providers: the Provider Registry Protocol's versions and download.

use std::sync::Arc;

use tfr_core::{Platform, ProviderAddress, ProviderVersion};

use crate::driven::{
    ProviderListQuery, ProviderRepository, ProviderWithVersions, SigningKeyRecord,
};
use crate::service::{DownloadLinks, ServiceError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderVersionSummary {
    pub version: String,
    pub protocols: Vec<String>,
    pub platforms: Vec<Platform>,
}

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
}

fn sort_newest_first(found: &mut ProviderWithVersions) {
    found
        .versions
        .sort_by_cached_key(|v| std::cmp::Reverse(ProviderVersion::parse(&v.version).ok()));
}

impl ProviderCatalog {
    pub fn new(providers: Arc<dyn ProviderRepository>, links: Arc<DownloadLinks>) -> Self {
        Self { providers, links }
    }

    /// Every version, newest first, with protocols and platforms.
    pub async fn versions(
        &self,
        address: &ProviderAddress,
    ) -> Result<Vec<ProviderVersionSummary>, ServiceError> {
        let mut found = self
            .providers
            .find_provider(address)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("provider {address} not found")))?;
        sort_newest_first(&mut found);
        Ok(found
            .versions
            .into_iter()
            .map(|v| {
                let mut platforms: Vec<Platform> =
                    v.platforms.into_iter().map(|p| p.platform).collect();
                platforms.sort();
                ProviderVersionSummary {
                    version: v.version,
                    protocols: v.protocols,
                    platforms,
                }
            })
            .collect())
    }

    pub async fn download(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
        platform: &Platform,
    ) -> Result<ProviderDownload, ServiceError> {
        let record = self
            .providers
            .find_version(address, version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("provider {address} version {version} not found"))
            })?;
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
        page.items.iter_mut().for_each(sort_newest_first);
        Ok((page.items, page.has_more))
    }
}
