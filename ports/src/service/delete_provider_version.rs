//! Deleting a provider version: its blobs first, then its rows (retry converges).

use std::sync::Arc;

use tfr_core::{ProviderAddress, ProviderVersion};

use crate::driven::{BlobStore, ProviderRepository};
use crate::service::{CatalogCache, ServiceError};

pub struct DeleteProviderVersion {
    providers: Arc<dyn ProviderRepository>,
    blobs: Arc<dyn BlobStore>,
    cache: Arc<CatalogCache>,
}

impl DeleteProviderVersion {
    pub fn new(
        providers: Arc<dyn ProviderRepository>,
        blobs: Arc<dyn BlobStore>,
        cache: Arc<CatalogCache>,
    ) -> Self {
        Self {
            providers,
            blobs,
            cache,
        }
    }

    pub async fn execute(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<(), ServiceError> {
        let record = self
            .providers
            .find_version(address, version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("provider {address} version {version} not found"))
            })?;
        for package in &record.platforms {
            self.blobs.delete(&package.blob_key).await?;
        }
        self.blobs.delete(&record.shasums_key).await?;
        self.blobs.delete(&record.shasums_signature_key).await?;
        self.providers.delete_version(record.id).await?;
        self.cache.invalidate_provider(address);
        tracing::info!(provider = %address, %version, "provider version deleted");
        Ok(())
    }
}
