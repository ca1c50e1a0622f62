//! Publishing a module version from an uploaded archive.
//!
//! Order matters for "bad input changes nothing": the archive is staged and inspected
//! before anything is stored; the blob is written under this upload's own key; the row
//! is inserted last, and the blob is removed again if that fails.

use std::sync::Arc;

use tfr_core::archive::description_from_readme;
use tfr_core::{ArchiveFormat, ArchiveLimits, BlobKey, ModuleAddress, ModuleVersion};
use uuid::Uuid;

use crate::driven::{
    ArchiveInspector, BlobStore, Clock, ModuleRepository, ModuleVersionRecord, NewModuleVersion,
};
use crate::service::{CatalogCache, ServiceError};
use crate::stream::StagedFile;

pub struct ModuleUpload {
    pub address: ModuleAddress,
    pub version: ModuleVersion,
    pub format: ArchiveFormat,
    pub archive: StagedFile,
    /// The API key that published it.
    pub published_by: Option<Uuid>,
    /// Where the namespace goes if this publish creates it.
    pub organization_id: Uuid,
}

pub struct PublishModule {
    modules: Arc<dyn ModuleRepository>,
    blobs: Arc<dyn BlobStore>,
    inspector: Arc<dyn ArchiveInspector>,
    clock: Arc<dyn Clock>,
    limits: ArchiveLimits,
    cache: Arc<CatalogCache>,
}

impl PublishModule {
    pub fn new(
        modules: Arc<dyn ModuleRepository>,
        blobs: Arc<dyn BlobStore>,
        inspector: Arc<dyn ArchiveInspector>,
        clock: Arc<dyn Clock>,
        limits: ArchiveLimits,
        cache: Arc<CatalogCache>,
    ) -> Self {
        Self {
            modules,
            blobs,
            inspector,
            clock,
            limits,
            cache,
        }
    }

    pub fn limits(&self) -> ArchiveLimits {
        self.limits
    }

    pub async fn execute(&self, upload: ModuleUpload) -> Result<ModuleVersionRecord, ServiceError> {
        let ModuleUpload {
            address,
            version,
            format,
            archive,
            published_by,
            organization_id,
        } = upload;
        if archive.size() > self.limits.max_archive_bytes {
            return Err(ServiceError::TooLarge {
                limit: self.limits.max_archive_bytes,
            });
        }
        let info = self
            .inspector
            .inspect_module(&archive, format, self.limits)
            .await
            .map_err(|v| ServiceError::invalid(v.check(), v.to_string()))?;

        self.check_new(&address, &version).await?;

        let id = Uuid::now_v7();
        let key = BlobKey::module_archive(&address, &version, format, Uuid::new_v4().as_u128());
        self.blobs
            .put_staged(&key, &archive, Some(format.content_type().to_string()))
            .await?;

        let new = NewModuleVersion {
            id,
            address: address.clone(),
            version: version.clone(),
            description: info.readme.as_deref().and_then(description_from_readme),
            readme: info.readme,
            format,
            blob_key: key.clone(),
            size: archive.size(),
            sha256: archive.sha256().to_string(),
            published_at: self.clock.now(),
            published_by,
            namespace_organization: organization_id,
        };
        match self.modules.insert_version(new).await {
            Ok(record) => {
                self.cache.invalidate_module(&address);
                tracing::info!(module = %address, %version, size = archive.size(), "module version published");
                Ok(record)
            }
            Err(err) => {
                if let Err(cleanup) = self.blobs.delete(&key).await {
                    tracing::error!(key = %key, error = %cleanup, "could not remove the blob of a failed publish");
                }
                match ServiceError::from(err) {
                    ServiceError::Conflict(_) => Err(conflict(&address, &version)),
                    other => Err(other),
                }
            }
        }
    }
}

impl PublishModule {
    /// Refuses a version that exists, or that equals an existing one in precedence
    /// (`1.2.3.0` or `1.2.3+build` beside `1.2.3`): Terraform cannot tell them apart, so
    /// publishing one would silently change what `version = "1.2.3"` installs.
    async fn check_new(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<(), ServiceError> {
        let Some(found) = self.modules.find_module(address).await? else {
            return Ok(());
        };
        for existing in &found.versions {
            let same = ModuleVersion::parse(&existing.version)
                .is_ok_and(|v| v.version().cmp_precedence(version.version()).is_eq());
            if same {
                return Err(if existing.version == version.to_string() {
                    conflict(address, version)
                } else {
                    ServiceError::Conflict(format!(
                        "module {address} version {version} has the same precedence as the published {}; \
                         Terraform cannot tell them apart",
                        existing.version
                    ))
                });
            }
        }
        Ok(())
    }
}

fn conflict(address: &ModuleAddress, version: &ModuleVersion) -> ServiceError {
    ServiceError::Conflict(format!(
        "module {address} version {version} already exists; published versions are immutable"
    ))
}
