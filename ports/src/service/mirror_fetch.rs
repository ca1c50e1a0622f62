//! Copying from an upstream registry, verified: a version's SHA256SUMS must carry a
//! valid signature by one of upstream's keys before anything of it is kept, and each
//! package must hash to its SHA256SUMS line before it is stored. Packages stream to a
//! staging file and on to the blob store byte for byte, so lock files made against
//! upstream still verify and memory stays flat whatever the size.

use std::path::PathBuf;
use std::sync::Arc;

use tfr_core::provider_package::Sha256Sums;
use tfr_core::{ArchiveLimits, BlobKey, Platform, ProviderAddress, ProviderVersion, RegistryHost};
use uuid::Uuid;

use crate::driven::{
    ArchiveInspector, BlobStore, Clock, MirrorRepository, MirroredPackageRecord,
    MirroredVersionRecord, NewMirroredPackage, NewMirroredVersion, RepoError, SignatureVerifier,
    UpstreamError, UpstreamRegistry,
};
use crate::service::ServiceError;
use crate::stream::stage_stream;

/// Largest SHA256SUMS or signature document read from upstream.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;

/// Why a version or package was not mirrored.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Upstream's bytes did not verify: a bad signature, a checksum mismatch, a zip that
    /// breaks the safety rules. Nothing of it is kept or served.
    #[error("verification failed: {0}")]
    Verification(String),
    #[error(transparent)]
    Local(#[from] ServiceError),
}

impl From<RepoError> for FetchError {
    fn from(err: RepoError) -> Self {
        FetchError::Local(err.into())
    }
}

impl From<FetchError> for ServiceError {
    fn from(err: FetchError) -> Self {
        match err {
            FetchError::Upstream(UpstreamError::NotFound(msg)) => ServiceError::NotFound(msg),
            FetchError::Upstream(e @ UpstreamError::Unavailable { .. }) => {
                ServiceError::Unavailable(e.to_string())
            }
            FetchError::Upstream(e) => ServiceError::BadGateway(e.to_string()),
            e @ FetchError::Verification(_) => ServiceError::BadGateway(e.to_string()),
            FetchError::Local(e) => e,
        }
    }
}

/// A package that was stored, and how many bytes came from upstream for it (0 when
/// another fetch had stored it first).
#[derive(Debug, Clone)]
pub struct FetchedPackage {
    pub record: MirroredPackageRecord,
    pub bytes_fetched: u64,
}

pub struct MirrorFetcher {
    repo: Arc<dyn MirrorRepository>,
    upstream: Arc<dyn UpstreamRegistry>,
    blobs: Arc<dyn BlobStore>,
    inspector: Arc<dyn ArchiveInspector>,
    verifier: Arc<dyn SignatureVerifier>,
    clock: Arc<dyn Clock>,
    staging_dir: PathBuf,
    limits: ArchiveLimits,
}

impl MirrorFetcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        repo: Arc<dyn MirrorRepository>,
        upstream: Arc<dyn UpstreamRegistry>,
        blobs: Arc<dyn BlobStore>,
        inspector: Arc<dyn ArchiveInspector>,
        verifier: Arc<dyn SignatureVerifier>,
        clock: Arc<dyn Clock>,
        staging_dir: PathBuf,
        limits: ArchiveLimits,
    ) -> Self {
        Self {
            repo,
            upstream,
            blobs,
            inspector,
            verifier,
            clock,
            staging_dir,
            limits,
        }
    }

    /// Verifies a version's SHA256SUMS against upstream's signature (reading the download
    /// document of `probe` for the URLs and keys) and records it. Callers check first that
    /// it is not recorded; when another fetch recorded it meanwhile, that record is
    /// returned. The `bool` is true when this call recorded it.
    pub async fn verify_version(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &ProviderVersion,
        probe: &Platform,
    ) -> Result<(MirroredVersionRecord, bool), FetchError> {
        let doc = self.upstream.package(host, address, version, probe).await?;
        let shasums = self
            .upstream
            .fetch_document(&doc.shasums_url, MAX_DOCUMENT_BYTES)
            .await?;
        let signature = self
            .upstream
            .fetch_document(&doc.shasums_signature_url, MAX_DOCUMENT_BYTES)
            .await?;
        let text = String::from_utf8(shasums)
            .map_err(|_| FetchError::Verification("SHA256SUMS is not UTF-8 text".into()))?;
        Sha256Sums::parse(&text)
            .map_err(|e| FetchError::Verification(format!("SHA256SUMS: {e}")))?;
        let key = self.verify_signature(&doc.signing_keys, text.as_bytes(), &signature)?;
        let id = Uuid::now_v7();
        let record = self
            .repo
            .ensure_version(NewMirroredVersion {
                id,
                upstream: host.clone(),
                address: address.clone(),
                version: version.to_string(),
                protocols: doc.protocols.clone(),
                shasums: text,
                key_fingerprint: key,
                verified_at: self.clock.now(),
            })
            .await?;
        let fresh = record.id == id;
        if fresh {
            tracing::info!(upstream = %host, provider = %address, %version, "mirrored version verified");
        }
        Ok((record, fresh))
    }

    async fn recorded_version(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<Option<MirroredVersionRecord>, FetchError> {
        let wanted = version.to_string();
        Ok(self
            .repo
            .find_mirrored(host, address)
            .await?
            .and_then(|p| p.versions.into_iter().find(|v| v.version == wanted)))
    }

    /// The fingerprint of the first offered key whose signature verifies. Upstream's
    /// `key_id` is never trusted: the key that verifies decides.
    fn verify_signature(
        &self,
        keys: &[String],
        data: &[u8],
        signature: &[u8],
    ) -> Result<String, FetchError> {
        if keys.is_empty() {
            return Err(FetchError::Verification(
                "upstream offers no signing key for SHA256SUMS".into(),
            ));
        }
        let mut last = String::new();
        for armored in keys {
            match self.verifier.verify_detached(armored, data, signature) {
                Ok(info) => return Ok(info.fingerprint),
                Err(e) => last = e.to_string(),
            }
        }
        Err(FetchError::Verification(format!(
            "the SHA256SUMS signature does not verify with any of upstream's {} key(s): {last}",
            keys.len()
        )))
    }

    /// Downloads one package of a verified version, checks it against the verified
    /// SHA256SUMS, hashes it (`h1:`) and stores it. A concurrent fetch of the same package
    /// (another request, another replica) may win: its row is returned and this copy's
    /// blob removed.
    pub async fn fetch_package(
        &self,
        host: &RegistryHost,
        address: &ProviderAddress,
        version: &MirroredVersionRecord,
        platform: &Platform,
    ) -> Result<FetchedPackage, FetchError> {
        let parsed = ProviderVersion::parse(&version.version)
            .map_err(|e| FetchError::Local(ServiceError::internal(e.to_string())))?;
        let doc = self
            .upstream
            .package(host, address, &parsed, platform)
            .await?;
        let sums = Sha256Sums::parse(&version.shasums)
            .map_err(|e| FetchError::Verification(format!("SHA256SUMS: {e}")))?;
        let listed = sums.get(&doc.filename).ok_or_else(|| {
            FetchError::Verification(format!(
                "{} is not listed in the signed SHA256SUMS",
                doc.filename
            ))
        })?;
        if !listed.eq_ignore_ascii_case(&doc.shasum) {
            return Err(FetchError::Verification(format!(
                "{}: upstream's shasum {} differs from {listed} in the signed SHA256SUMS",
                doc.filename, doc.shasum
            )));
        }
        let body = self.upstream.download(&doc.download_url).await?;
        let staged = stage_stream(body, &self.staging_dir, self.limits.max_archive_bytes)
            .await
            .map_err(|e| match crate::stream::is_limit_error(&e) {
                Some(limit) => FetchError::Verification(format!(
                    "{} is larger than the {limit}-byte package limit",
                    doc.filename
                )),
                None => FetchError::Upstream(UpstreamError::Unavailable {
                    host: host.to_string(),
                    reason: format!("downloading {}: {e}", doc.filename),
                }),
            })?;
        if !staged.sha256().eq_ignore_ascii_case(listed) {
            return Err(FetchError::Verification(format!(
                "{}: downloaded SHA-256 {} does not match {listed} in the signed SHA256SUMS",
                doc.filename,
                staged.sha256()
            )));
        }
        let h1 = self
            .inspector
            .hash_zip(&staged, self.limits)
            .await
            .map_err(|e| FetchError::Verification(format!("{}: {e}", doc.filename)))?;

        let blob_key =
            BlobKey::mirrored_package(host, address, &parsed, platform, Uuid::new_v4().as_u128());
        self.blobs
            .put_staged(&blob_key, &staged, Some("application/zip".to_string()))
            .await
            .map_err(ServiceError::from)?;
        let inserted = self
            .repo
            .insert_package(NewMirroredPackage {
                id: Uuid::now_v7(),
                version_id: version.id,
                platform: platform.clone(),
                filename: doc.filename.clone(),
                sha256: staged.sha256().to_string(),
                h1,
                size: staged.size(),
                blob_key: blob_key.clone(),
                fetched_at: self.clock.now(),
            })
            .await;
        match inserted {
            Ok(record) => {
                tracing::info!(upstream = %host, provider = %address, version = %version.version,
                    %platform, bytes = staged.size(), "mirrored package stored");
                Ok(FetchedPackage {
                    record,
                    bytes_fetched: staged.size(),
                })
            }
            Err(err) => {
                if let Err(cleanup) = self.blobs.delete(&blob_key).await {
                    tracing::error!(key = %blob_key, error = %cleanup, "could not remove the blob of a mirrored package that was not recorded");
                }
                if !matches!(err, RepoError::Conflict(_)) {
                    return Err(err.into());
                }
                let winner = self
                    .recorded_version(host, address, &parsed)
                    .await?
                    .and_then(|v| v.packages.into_iter().find(|p| &p.platform == platform))
                    .ok_or_else(|| {
                        ServiceError::internal("a conflicting mirrored package vanished")
                    })?;
                Ok(FetchedPackage {
                    record: winner,
                    bytes_fetched: 0,
                })
            }
        }
    }
}
