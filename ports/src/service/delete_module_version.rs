//! Deleting a module version: its blob first, then its row, so a failure part-way can be
//! retried and converges (deleting an absent blob is not an error).

use std::sync::Arc;

use tfr_core::{ModuleAddress, ModuleVersion};

use crate::driven::{BlobStore, ModuleRepository};
use crate::service::{CatalogCache, ServiceError};

pub struct DeleteModuleVersion {
    modules: Arc<dyn ModuleRepository>,
    blobs: Arc<dyn BlobStore>,
    cache: Arc<CatalogCache>,
}

impl DeleteModuleVersion {
    pub fn new(
        modules: Arc<dyn ModuleRepository>,
        blobs: Arc<dyn BlobStore>,
        cache: Arc<CatalogCache>,
    ) -> Self {
        Self {
            modules,
            blobs,
            cache,
        }
    }

    pub async fn execute(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<(), ServiceError> {
        let (_, record) = self
            .modules
            .find_version(address, version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("module {address} version {version} not found"))
            })?;
        self.blobs.delete(&record.blob_key).await?;
        self.modules.delete_version(record.id).await?;
        self.cache.invalidate_module(address);
        tracing::info!(module = %address, %version, "module version deleted");
        Ok(())
    }
}
