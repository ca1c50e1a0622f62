//! Repository ports. One call is one transaction over one aggregate; "not found" is
//! `Ok(None)`; a unique violation is `RepoError::Conflict`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tfr_core::{
    ArchiveFormat, BlobKey, ModuleAddress, ModuleVersion, Platform, ProviderAddress,
    ProviderVersion, ScopeSet,
};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

// ---------------------------------------------------------------- modules

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRecord {
    pub id: Uuid,
    /// Display case, as first published.
    pub namespace: String,
    pub name: String,
    pub system: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleVersionRecord {
    pub id: Uuid,
    pub module_id: Uuid,
    /// Canonical form (`ModuleVersion::to_string`).
    pub version: String,
    pub description: Option<String>,
    pub readme: Option<String>,
    pub format: ArchiveFormat,
    pub blob_key: BlobKey,
    pub size: u64,
    pub sha256: String,
    pub downloads: u64,
    pub published_at: DateTime<Utc>,
    pub published_by: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct NewModuleVersion {
    pub id: Uuid,
    pub address: ModuleAddress,
    pub version: ModuleVersion,
    pub description: Option<String>,
    pub readme: Option<String>,
    pub format: ArchiveFormat,
    pub blob_key: BlobKey,
    pub size: u64,
    pub sha256: String,
    pub published_at: DateTime<Utc>,
    pub published_by: Option<Uuid>,
    /// The organization a namespace created by this publish belongs to; an existing
    /// namespace keeps its own.
    pub namespace_organization: Uuid,
}

/// A module with all its versions (unsorted), for the versions endpoint and "latest".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleWithVersions {
    pub module: ModuleRecord,
    pub versions: Vec<ModuleVersionRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleListQuery {
    /// Lower-case namespace filter.
    pub namespace: Option<String>,
    /// Lower-case module name filter.
    pub name: Option<String>,
    pub system: Option<String>,
    /// Case-insensitive substring over namespace, name and description.
    pub search: Option<String>,
    /// Read protection: when `Some`, only modules in namespaces owned by these
    /// organizations or marked public.
    pub organizations: Option<Vec<Uuid>>,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePage {
    /// Each module with its versions (`readme: None`); ordered by namespace, name, system.
    pub items: Vec<ModuleWithVersions>,
    pub has_more: bool,
}

#[async_trait]
pub trait ModuleRepository: Send + Sync {
    /// Creates the namespace and module rows when missing, then the version.
    /// `Conflict` when the version exists (whatever the case of the address).
    async fn insert_version(&self, new: NewModuleVersion)
    -> Result<ModuleVersionRecord, RepoError>;

    /// The hot path: the module (matched case-insensitively) with its versions, in one
    /// query. The versions carry `readme: None`: README text is never loaded here (use
    /// `find_version` for it).
    async fn find_module(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<ModuleWithVersions>, RepoError>;

    async fn find_version(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<Option<(ModuleRecord, ModuleVersionRecord)>, RepoError>;

    /// Removes the version row; the module row goes too when it was the last version.
    async fn delete_version(&self, version_id: Uuid) -> Result<bool, RepoError>;

    async fn list(&self, query: &ModuleListQuery) -> Result<ModulePage, RepoError>;

    /// Adds `count` downloads to a version (counts are batched off the request path);
    /// an unknown version is ignored.
    async fn record_downloads(&self, version_id: Uuid, count: u64) -> Result<(), RepoError>;
}

// ---------------------------------------------------------------- providers

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub id: Uuid,
    pub namespace: String,
    pub key_id: String,
    pub fingerprint: String,
    pub ascii_armor: String,
    pub source: Option<String>,
    pub source_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPlatformRecord {
    pub id: Uuid,
    pub platform: Platform,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    pub h1: String,
    pub blob_key: BlobKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    pub id: Uuid,
    pub namespace: String,
    pub provider_type: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderVersionRecord {
    pub id: Uuid,
    pub provider_id: Uuid,
    pub version: String,
    pub protocols: Vec<String>,
    pub shasums_key: BlobKey,
    pub shasums_signature_key: BlobKey,
    pub signing_key: SigningKeyRecord,
    pub platforms: Vec<ProviderPlatformRecord>,
    pub published_at: DateTime<Utc>,
    pub published_by: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct NewProviderPlatform {
    pub id: Uuid,
    pub platform: Platform,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    pub h1: String,
    pub blob_key: BlobKey,
}

#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub id: Uuid,
    pub key_id: String,
    pub fingerprint: String,
    pub ascii_armor: String,
}

#[derive(Debug, Clone)]
pub struct NewProviderVersion {
    pub id: Uuid,
    pub address: ProviderAddress,
    pub version: ProviderVersion,
    pub protocols: Vec<String>,
    pub shasums_key: BlobKey,
    pub shasums_signature_key: BlobKey,
    /// Reused when the namespace already has a key with this fingerprint.
    pub signing_key: NewSigningKey,
    pub platforms: Vec<NewProviderPlatform>,
    pub published_at: DateTime<Utc>,
    pub published_by: Option<Uuid>,
    /// The organization a namespace created by this publish belongs to; an existing
    /// namespace keeps its own.
    pub namespace_organization: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderWithVersions {
    pub provider: ProviderRecord,
    pub versions: Vec<ProviderVersionRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderListQuery {
    pub namespace: Option<String>,
    pub search: Option<String>,
    /// Read protection: when `Some`, only providers in namespaces owned by these
    /// organizations or marked public.
    pub organizations: Option<Vec<Uuid>>,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPage {
    pub items: Vec<ProviderWithVersions>,
    pub has_more: bool,
}

#[async_trait]
pub trait ProviderRepository: Send + Sync {
    /// Creates namespace and provider rows when missing, reuses or adds the signing key,
    /// then the version and its platforms, in one transaction. `Conflict` when the
    /// version exists.
    async fn insert_version(
        &self,
        new: NewProviderVersion,
    ) -> Result<ProviderVersionRecord, RepoError>;

    /// The hot path for the versions endpoint: every version with its platforms.
    async fn find_provider(
        &self,
        address: &ProviderAddress,
    ) -> Result<Option<ProviderWithVersions>, RepoError>;

    async fn find_version(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<Option<ProviderVersionRecord>, RepoError>;

    /// Removes the version and its platforms; the provider row goes with its last version.
    async fn delete_version(&self, version_id: Uuid) -> Result<bool, RepoError>;

    async fn list(&self, query: &ProviderListQuery) -> Result<ProviderPage, RepoError>;
}

// ---------------------------------------------------------------- API keys

/// Who an API key belongs to. Its scopes never exceed the owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// Made with `tfr keys create` on the server host: global scopes, no user behind it.
    System,
    /// Acts as the user, within the user's current scopes.
    User(Uuid),
    /// Acts within one organization (automation, CI).
    Organization(Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub owner: KeyOwner,
    pub name: String,
    /// The first 10 characters of the key, stored in clear for an indexed lookup.
    pub prefix: String,
    /// bcrypt hash of the whole key.
    pub key_hash: String,
    pub scopes: ScopeSet,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), RepoError>;
    /// Keys sharing a prefix (revoked ones included; the caller decides).
    async fn find_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKeyRecord>, RepoError>;
    async fn find_by_id(&self, id: Uuid) -> Result<Option<ApiKeyRecord>, RepoError>;
    /// Newest first; `Some(owner)` restricts to one owner.
    async fn list(&self, owner: Option<KeyOwner>) -> Result<Vec<ApiKeyRecord>, RepoError>;
    /// Marks the key revoked; `false` when no such key.
    async fn revoke(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, RepoError>;
    /// Replaces the secret (new prefix and hash) of a key that is not revoked; `false`
    /// when no such live key.
    async fn rotate(
        &self,
        id: Uuid,
        prefix: &str,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    async fn touch_last_used(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), RepoError>;
}

// ---------------------------------------------------------------- health

#[async_trait]
pub trait DatabaseHealth: Send + Sync {
    /// Reachable and every migration applied.
    async fn ready(&self) -> Result<(), RepoError>;
}
