//! Small stubs of the archive-inspection and signature ports, for use-case tests.

use std::sync::Mutex;

use async_trait::async_trait;
use tfr_core::{ArchiveFormat, ArchiveLimits, ArchiveSummary, ArchiveViolation, ProviderType};

use crate::driven::{
    ArchiveInspector, ModuleArchiveInfo, ProviderZipError, ProviderZipInfo, SignatureError,
    SignatureVerifier, SigningKeyInfo,
};
use crate::stream::StagedFile;

/// Answers every inspection with the configured result.
#[derive(Debug)]
pub struct StubArchiveInspector {
    module: Mutex<Result<ModuleArchiveInfo, ArchiveViolation>>,
    provider: Mutex<Result<ProviderZipInfo, ProviderZipError>>,
}

impl Default for StubArchiveInspector {
    fn default() -> Self {
        Self::new()
    }
}

impl StubArchiveInspector {
    /// Accepts everything: a module with one `.tf` file and no README, and provider zips
    /// holding `terraform-provider-stub`.
    pub fn new() -> Self {
        Self {
            module: Mutex::new(Ok(ModuleArchiveInfo {
                summary: ArchiveSummary {
                    entries: 1,
                    unpacked_bytes: 10,
                    tf_files: 1,
                    readme_path: None,
                },
                readme: None,
            })),
            provider: Mutex::new(Ok(ProviderZipInfo {
                binary_name: "terraform-provider-stub".to_string(),
                h1: "h1:stub=".to_string(),
            })),
        }
    }
    /// Accepts modules, reporting this root README.
    pub fn with_readme(self, readme: &str) -> Self {
        self.set_module(Ok(ModuleArchiveInfo {
            summary: ArchiveSummary {
                entries: 2,
                unpacked_bytes: 10 + readme.len() as u64,
                tf_files: 1,
                readme_path: Some("README.md".to_string()),
            },
            readme: Some(readme.to_string()),
        }));
        self
    }
    pub fn set_module(&self, result: Result<ModuleArchiveInfo, ArchiveViolation>) {
        *self.module.lock().unwrap_or_else(|e| e.into_inner()) = result;
    }
    pub fn set_provider(&self, result: Result<ProviderZipInfo, ProviderZipError>) {
        *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = result;
    }
}

#[async_trait]
impl ArchiveInspector for StubArchiveInspector {
    async fn inspect_module(
        &self,
        _file: &StagedFile,
        _format: ArchiveFormat,
        _limits: ArchiveLimits,
    ) -> Result<ModuleArchiveInfo, ArchiveViolation> {
        self.module
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn inspect_provider_zip(
        &self,
        _file: &StagedFile,
        _provider_type: &ProviderType,
        _limits: ArchiveLimits,
    ) -> Result<ProviderZipInfo, ProviderZipError> {
        self.provider
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The configured provider result's `h1`, or its error.
    async fn hash_zip(
        &self,
        _file: &StagedFile,
        _limits: ArchiveLimits,
    ) -> Result<String, ProviderZipError> {
        self.provider
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map(|info| info.h1)
    }
}

/// Accepts a signature whose bytes are exactly `b"good"`; any key parses to `key()`.
#[derive(Debug, Default)]
pub struct StubSignatureVerifier;

impl StubSignatureVerifier {
    pub const GOOD_SIGNATURE: &'static [u8] = b"good";

    /// The key every armored text "parses" to.
    pub fn key() -> SigningKeyInfo {
        SigningKeyInfo {
            key_id: "0123456789ABCDEF".to_string(),
            fingerprint: "FEDCBA98765432100123456789ABCDEF01234567".to_string(),
            ascii_armor:
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\nstub\n-----END PGP PUBLIC KEY BLOCK-----\n"
                    .to_string(),
            warnings: Vec::new(),
        }
    }
}

impl SignatureVerifier for StubSignatureVerifier {
    fn parse_public_key(&self, _armored: &str) -> Result<SigningKeyInfo, SignatureError> {
        Ok(Self::key())
    }

    fn verify_detached(
        &self,
        armored: &str,
        _data: &[u8],
        signature: &[u8],
    ) -> Result<SigningKeyInfo, SignatureError> {
        if signature == Self::GOOD_SIGNATURE {
            self.parse_public_key(armored)
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}
