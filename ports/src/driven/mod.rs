//! Ports that adapters implement.

pub mod archive;
pub mod blob;
pub mod clock;
pub mod repo;
pub mod security;

pub use archive::{ArchiveInspector, ModuleArchiveInfo, ProviderZipError, ProviderZipInfo};
pub use blob::{BlobError, BlobMeta, BlobObject, BlobStore, PutExpectation};
pub use clock::{Clock, SystemClock};
pub use repo::*;
pub use security::{
    SecretGenerator, SecretHasher, SignatureError, SignatureVerifier, SigningKeyInfo, UrlSigner,
};
