//! Ports that adapters implement.

pub mod archive;
pub mod audit;
pub mod blob;
pub mod clock;
pub mod identity;
pub mod mirror;
pub mod repo;
pub mod security;
pub mod session;
pub mod sso;
pub mod upstream;

pub use archive::{ArchiveInspector, ModuleArchiveInfo, ProviderZipError, ProviderZipInfo};
pub use audit::{AuditOutcome, AuditQuery, AuditRecord, AuditRepository};
pub use blob::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, PutExpectation, StoreCheckError,
};
pub use clock::{Clock, SystemClock};
pub use identity::*;
pub use mirror::*;
pub use repo::*;
pub use security::{
    SecretGenerator, SecretHasher, SessionClaims, SessionTokenCodec, SignatureError,
    SignatureVerifier, SigningKeyInfo, StateSealer, TokenError, UrlSigner,
};
pub use session::{LoginCodeRecord, LoginCodeRepository, RevokedSessionRepository};
pub use sso::{AuthorizationRequest, ExternalIdentity, IdentityProvider, SsoError};
pub use upstream::{UpstreamError, UpstreamPackage, UpstreamRegistry, UpstreamVersion};
