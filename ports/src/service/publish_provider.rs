//! Publishing a GPG-signed provider version: every platform zip, SHA256SUMS, its binary
//! detached signature and the public key. Everything is verified before anything is
//! stored; blobs go under this upload's own keys and are removed again on failure.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use tfr_core::provider_package::{Sha256Sums, parse_package_filename, parse_protocols};
use tfr_core::{ArchiveLimits, BlobKey, Platform, ProviderAddress, ProviderVersion};
use uuid::Uuid;

use crate::driven::{
    ArchiveInspector, BlobStore, Clock, NewProviderPlatform, NewProviderVersion, NewSigningKey,
    ProviderRepository, ProviderVersionRecord, PutExpectation, SignatureVerifier,
};
use crate::service::{CatalogCache, ServiceError};
use crate::stream::{ByteStream, StagedFile};

pub struct PackageUpload {
    /// The part's file name: `terraform-provider-{type}_{version}_{os}_{arch}.zip`.
    pub filename: String,
    pub file: StagedFile,
}

pub struct ProviderUpload {
    pub address: ProviderAddress,
    pub version: ProviderVersion,
    pub packages: Vec<PackageUpload>,
    pub shasums: Vec<u8>,
    pub signature: Vec<u8>,
    pub public_key: String,
    /// Explicit protocols (`5.0,6.0`); else read from `manifest`; else `5.0`.
    pub protocols: Option<String>,
    /// The goreleaser `..._manifest.json`, if sent.
    pub manifest: Option<Vec<u8>>,
    pub published_by: Option<Uuid>,
    /// Where the namespace goes if this publish creates it.
    pub organization_id: Uuid,
}

/// A published version, with anything the publisher should know (e.g. a signing key
/// some Terraform versions cannot read).
#[derive(Debug, Clone)]
pub struct PublishedProvider {
    pub record: ProviderVersionRecord,
    pub warnings: Vec<String>,
}

pub struct PublishProvider {
    providers: Arc<dyn ProviderRepository>,
    blobs: Arc<dyn BlobStore>,
    inspector: Arc<dyn ArchiveInspector>,
    verifier: Arc<dyn SignatureVerifier>,
    clock: Arc<dyn Clock>,
    limits: ArchiveLimits,
    cache: Arc<CatalogCache>,
}

struct CheckedPackage<'a> {
    upload: &'a PackageUpload,
    platform: Platform,
    h1: String,
}

fn bytes_stream(data: Vec<u8>) -> ByteStream {
    Box::pin(futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from(data))
    }))
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

/// `protocols` from the explicit value, else the manifest, else `5.0`. Terraform 0.13+
/// speaks plugin protocols 5 and 6 only.
fn resolve_protocols(
    explicit: Option<&str>,
    manifest: Option<&[u8]>,
) -> Result<Vec<String>, ServiceError> {
    let items: Vec<String> = if let Some(list) = explicit.filter(|s| !s.trim().is_empty()) {
        list.split(',').map(str::to_string).collect()
    } else if let Some(raw) = manifest {
        let json: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
            ServiceError::invalid("manifest", format!("manifest.json is not valid JSON: {e}"))
        })?;
        json.pointer("/metadata/protocol_versions")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .ok_or_else(|| {
                ServiceError::invalid(
                    "manifest",
                    "manifest.json has no metadata.protocol_versions list",
                )
            })?
    } else {
        vec!["5.0".to_string()]
    };
    let protocols = parse_protocols(items.iter().map(String::as_str))
        .map_err(|e| ServiceError::invalid("protocols", e.to_string()))?;
    if protocols.is_empty() {
        return Err(ServiceError::invalid(
            "protocols",
            "protocols must list at least one version such as 5.0",
        ));
    }
    if let Some(bad) = protocols
        .iter()
        .find(|p| !(p.starts_with("5.") || p.starts_with("6.")))
    {
        return Err(ServiceError::invalid(
            "protocols",
            format!("protocol {bad} is not supported: Terraform speaks plugin protocols 5 and 6"),
        ));
    }
    Ok(protocols)
}

impl PublishProvider {
    pub fn new(
        providers: Arc<dyn ProviderRepository>,
        blobs: Arc<dyn BlobStore>,
        inspector: Arc<dyn ArchiveInspector>,
        verifier: Arc<dyn SignatureVerifier>,
        clock: Arc<dyn Clock>,
        limits: ArchiveLimits,
        cache: Arc<CatalogCache>,
    ) -> Self {
        Self {
            providers,
            blobs,
            inspector,
            verifier,
            clock,
            limits,
            cache,
        }
    }

    pub fn limits(&self) -> ArchiveLimits {
        self.limits
    }

    pub async fn execute(&self, upload: ProviderUpload) -> Result<PublishedProvider, ServiceError> {
        let (address, version) = (upload.address.clone(), upload.version.clone());
        if upload.packages.is_empty() {
            return Err(ServiceError::invalid(
                "packages",
                "at least one \"package\" part (a platform zip) is required",
            ));
        }
        let protocols = resolve_protocols(upload.protocols.as_deref(), upload.manifest.as_deref())?;
        let shasums_text = std::str::from_utf8(&upload.shasums)
            .map_err(|_| ServiceError::invalid("shasums_format", "SHA256SUMS is not UTF-8 text"))?;
        let shasums = Sha256Sums::parse(shasums_text)
            .map_err(|e| ServiceError::invalid("shasums_format", e.to_string()))?;
        let key = self
            .verifier
            .verify_detached(&upload.public_key, &upload.shasums, &upload.signature)
            .map_err(|e| {
                ServiceError::invalid("signature", format!("SHA256SUMS signature: {e}"))
            })?;

        let mut checked = Vec::with_capacity(upload.packages.len());
        let mut seen = BTreeSet::new();
        for package in &upload.packages {
            checked.push(
                self.check_package(&upload, package, &shasums, &mut seen)
                    .await?,
            );
        }

        self.check_new(&address, &version).await?;

        let warnings = key.warnings.clone();
        let upload_id = Uuid::new_v4().as_u128();
        let mut stored: Vec<BlobKey> = Vec::new();
        let result = self
            .store_and_insert(&upload, &checked, protocols, key, upload_id, &mut stored)
            .await;
        if result.is_err() {
            for blob in &stored {
                if let Err(cleanup) = self.blobs.delete(blob).await {
                    tracing::error!(key = %blob, error = %cleanup, "could not remove a blob of a failed publish");
                }
            }
        }
        match result {
            Ok(record) => {
                self.cache.invalidate_provider(&address);
                tracing::info!(provider = %address, %version, platforms = checked.len(), "provider version published");
                Ok(PublishedProvider { record, warnings })
            }
            Err(ServiceError::Conflict(_)) => Err(conflict(&address, &version)),
            Err(other) => Err(other),
        }
    }

    async fn check_package<'a>(
        &self,
        upload: &ProviderUpload,
        package: &'a PackageUpload,
        shasums: &Sha256Sums,
        seen: &mut BTreeSet<Platform>,
    ) -> Result<CheckedPackage<'a>, ServiceError> {
        let name = &package.filename;
        let platform = parse_package_filename(&upload.address.provider_type, &upload.version, name).ok_or_else(|| {
            ServiceError::invalid(
                "file_name",
                format!(
                    "{name}: package file names must be terraform-provider-{}_{}_<os>_<arch>.zip",
                    upload.address.provider_type.as_str(),
                    upload.version
                ),
            )
        })?;
        if !seen.insert(platform.clone()) {
            return Err(ServiceError::invalid(
                "file_name",
                format!("{name}: platform {platform} sent twice"),
            ));
        }
        if package.file.size() > self.limits.max_archive_bytes {
            return Err(ServiceError::TooLarge {
                limit: self.limits.max_archive_bytes,
            });
        }
        match shasums.get(name) {
            None => {
                return Err(ServiceError::invalid(
                    "checksum",
                    format!("{name}: not listed in SHA256SUMS"),
                ));
            }
            Some(listed) if listed != package.file.sha256() => {
                return Err(ServiceError::invalid(
                    "checksum",
                    format!(
                        "{name}: SHA-256 {} does not match {listed} listed in SHA256SUMS",
                        package.file.sha256()
                    ),
                ));
            }
            Some(_) => {}
        }
        let info = self
            .inspector
            .inspect_provider_zip(&package.file, &upload.address.provider_type, self.limits)
            .await
            .map_err(|e| ServiceError::invalid("provider_binary", format!("{name}: {e}")))?;
        Ok(CheckedPackage {
            upload: package,
            platform,
            h1: info.h1,
        })
    }

    async fn store_and_insert(
        &self,
        upload: &ProviderUpload,
        checked: &[CheckedPackage<'_>],
        protocols: Vec<String>,
        key: crate::driven::SigningKeyInfo,
        upload_id: u128,
        stored: &mut Vec<BlobKey>,
    ) -> Result<ProviderVersionRecord, ServiceError> {
        let (address, version) = (&upload.address, &upload.version);
        let mut platforms = Vec::with_capacity(checked.len());
        for package in checked {
            let blob_key =
                BlobKey::provider_package(address, version, &package.platform, upload_id);
            let file = &package.upload.file;
            self.blobs
                .put_staged(&blob_key, file, Some("application/zip".to_string()))
                .await?;
            stored.push(blob_key.clone());
            platforms.push(NewProviderPlatform {
                id: Uuid::now_v7(),
                platform: package.platform.clone(),
                filename: package.upload.filename.clone(),
                sha256: file.sha256().to_string(),
                size: file.size(),
                h1: package.h1.clone(),
                blob_key,
            });
        }
        let shasums_key = BlobKey::provider_shasums(address, version, upload_id);
        let signature_key = BlobKey::provider_shasums_signature(address, version, upload_id);
        for (blob_key, data, content_type) in [
            (&shasums_key, &upload.shasums, "text/plain; charset=utf-8"),
            (
                &signature_key,
                &upload.signature,
                "application/pgp-signature",
            ),
        ] {
            let expect = PutExpectation {
                sha256: Some(sha256_hex(data)),
                size: Some(data.len() as u64),
                content_type: Some(content_type.to_string()),
            };
            self.blobs
                .put(blob_key, bytes_stream(data.clone()), expect)
                .await?;
            stored.push(blob_key.clone());
        }
        let new = NewProviderVersion {
            id: Uuid::now_v7(),
            address: address.clone(),
            version: version.clone(),
            protocols,
            shasums_key,
            shasums_signature_key: signature_key,
            signing_key: NewSigningKey {
                id: Uuid::now_v7(),
                key_id: key.key_id,
                fingerprint: key.fingerprint,
                ascii_armor: key.ascii_armor,
            },
            platforms,
            published_at: self.clock.now(),
            published_by: upload.published_by,
            namespace_organization: upload.organization_id,
        };
        Ok(self.providers.insert_version(new).await?)
    }
}

impl PublishProvider {
    /// Refuses a version that exists, or that equals an existing one in precedence
    /// (`1.2.3+build` beside `1.2.3`): Terraform cannot tell them apart.
    async fn check_new(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<(), ServiceError> {
        let Some(found) = self.providers.find_provider(address).await? else {
            return Ok(());
        };
        for existing in &found.versions {
            let same = ProviderVersion::parse(&existing.version)
                .is_ok_and(|v| v.version().cmp_precedence(version.version()).is_eq());
            if same {
                return Err(if existing.version == version.to_string() {
                    conflict(address, version)
                } else {
                    ServiceError::Conflict(format!(
                        "provider {address} version {version} has the same precedence as the published {}; \
                         Terraform cannot tell them apart",
                        existing.version
                    ))
                });
            }
        }
        Ok(())
    }
}

fn conflict(address: &ProviderAddress, version: &ProviderVersion) -> ServiceError {
    ServiceError::Conflict(format!(
        "provider {address} version {version} already exists; published versions are immutable"
    ))
}
