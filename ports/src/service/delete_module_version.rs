//! Deleting a module version: its blob first, then its row, so a failure part-way can be
//! retried and converges (deleting an absent blob is not an error).

use std::sync::Arc;

use tfr_core::{ModuleAddress, ModuleVersion};

use crate::driven::{BlobStore, ModuleRepository};
use crate::service::ServiceError;

pub struct DeleteModuleVersion {
    modules: Arc<dyn ModuleRepository>,
    blobs: Arc<dyn BlobStore>,
}

impl DeleteModuleVersion {
    pub fn new(modules: Arc<dyn ModuleRepository>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { modules, blobs }
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
        tracing::info!(module = %address, %version, "module version deleted");
        Ok(())
    }
}
