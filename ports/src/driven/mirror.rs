//! Mirror state: configurations, sync leases and history, and what has been copied from
//! upstream (the `MirrorRepository` port). Mirrored providers live apart from published
//! ones: `registry.terraform.io/hashicorp/aws` and a private `hashicorp/aws` are
//! different providers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tfr_core::{BlobKey, MirrorFilter, Platform, ProviderAddress, RegistryHost};
use uuid::Uuid;

use crate::driven::RepoError;

// ---------------------------------------------------------------- configurations

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorConfigRecord {
    pub id: Uuid,
    /// Unique, as the operator names it.
    pub name: String,
    /// The registry packages are fetched from.
    pub upstream: RegistryHost,
    /// The `:hostname`s this configuration answers for under `/v1/mirror/` (for
    /// example both `registry.terraform.io` and `registry.opentofu.org`).
    pub hostnames: Vec<RegistryHost>,
    pub filter: MirrorFilter,
    pub enabled: bool,
    pub sync_interval_secs: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the last sync run started (scheduling reads this).
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_status: Option<SyncStatus>,
}

impl MirrorConfigRecord {
    /// Enabled and not synced within its interval.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.enabled
            && self.last_sync_at.is_none_or(|last| {
                now.signed_duration_since(last).num_seconds() >= self.sync_interval_secs as i64
            })
    }
}

// ---------------------------------------------------------------- history

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    Running,
    /// Everything wanted is mirrored.
    Succeeded,
    /// Some packages failed (see the run's failures); the rest were mirrored.
    Partial,
    /// Nothing could be done (upstream down, a panic, the database).
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Running => "running",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Partial => "partial",
            SyncStatus::Failed => "failed",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "running" => SyncStatus::Running,
            "succeeded" => SyncStatus::Succeeded,
            "partial" => SyncStatus::Partial,
            "failed" => SyncStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTrigger {
    Scheduled,
    Manual,
    /// A package fetched on demand failed; recorded as a finished, failed run.
    PullThrough,
}

impl SyncTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::Scheduled => "scheduled",
            SyncTrigger::Manual => "manual",
            SyncTrigger::PullThrough => "pull-through",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "scheduled" => Some(SyncTrigger::Scheduled),
            "manual" => Some(SyncTrigger::Manual),
            "pull-through" => Some(SyncTrigger::PullThrough),
            _ => None,
        }
    }
}

/// Why one provider, version or package could not be mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFailure {
    /// `namespace/type`.
    pub provider: String,
    pub version: Option<String>,
    pub platform: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunRecord {
    pub id: Uuid,
    pub config_id: Uuid,
    pub trigger: SyncTrigger,
    /// The replica that ran it.
    pub holder: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: SyncStatus,
    /// Versions newly verified (SHA256SUMS and signature) in this run.
    pub versions_fetched: u64,
    pub packages_fetched: u64,
    pub bytes_fetched: u64,
    pub failures: Vec<PackageFailure>,
    /// A run-level error (upstream unreachable, a panic).
    pub message: Option<String>,
}

// ---------------------------------------------------------------- mirrored content

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredPackageRecord {
    pub id: Uuid,
    pub platform: Platform,
    /// Upstream's file name.
    pub filename: String,
    pub sha256: String,
    /// Go dirhash `h1:` of the zip.
    pub h1: String,
    pub size: u64,
    pub blob_key: BlobKey,
    pub fetched_at: DateTime<Utc>,
}

/// A version whose SHA256SUMS verified against upstream's signature. Packages are added
/// as they are fetched and must match `shasums`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredVersionRecord {
    pub id: Uuid,
    pub version: String,
    pub protocols: Vec<String>,
    /// The verified SHA256SUMS text: every platform's `zh:` hash.
    pub shasums: String,
    /// Upper-case hex fingerprint of the primary key that verified the signature.
    pub key_fingerprint: String,
    pub verified_at: DateTime<Utc>,
    pub packages: Vec<MirroredPackageRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredProviderRecord {
    pub id: Uuid,
    pub upstream: RegistryHost,
    /// Lower-case.
    pub namespace: String,
    pub provider_type: String,
    pub created_at: DateTime<Utc>,
    /// When a sync last finished this provider.
    pub last_synced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredProvider {
    pub provider: MirroredProviderRecord,
    pub versions: Vec<MirroredVersionRecord>,
}

#[derive(Debug, Clone)]
pub struct NewMirroredVersion {
    pub id: Uuid,
    pub upstream: RegistryHost,
    pub address: ProviderAddress,
    pub version: String,
    pub protocols: Vec<String>,
    pub shasums: String,
    pub key_fingerprint: String,
    pub verified_at: DateTime<Utc>,
}

impl NewMirroredVersion {
    /// The record of the version as first stored: no packages yet.
    pub fn into_record(self) -> MirroredVersionRecord {
        MirroredVersionRecord {
            id: self.id,
            version: self.version,
            protocols: self.protocols,
            shasums: self.shasums,
            key_fingerprint: self.key_fingerprint,
            verified_at: self.verified_at,
            packages: vec![],
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMirroredPackage {
    pub id: Uuid,
    pub version_id: Uuid,
    pub platform: Platform,
    pub filename: String,
    pub sha256: String,
    pub h1: String,
    pub size: u64,
    pub blob_key: BlobKey,
    pub fetched_at: DateTime<Utc>,
}

impl NewMirroredPackage {
    /// The record of the package as stored (its version is where it is listed).
    pub fn into_record(self) -> MirroredPackageRecord {
        MirroredPackageRecord {
            id: self.id,
            platform: self.platform,
            filename: self.filename,
            sha256: self.sha256,
            h1: self.h1,
            size: self.size,
            blob_key: self.blob_key,
            fetched_at: self.fetched_at,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirroredListQuery {
    pub namespace: Option<String>,
    /// Case-insensitive substring over namespace and type.
    pub search: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredPage {
    /// Ordered by upstream, namespace, type; versions with their packages.
    pub items: Vec<MirroredProvider>,
    pub has_more: bool,
}

#[async_trait]
pub trait MirrorRepository: Send + Sync {
    /// `Conflict` when the name is taken.
    async fn insert_config(&self, config: &MirrorConfigRecord) -> Result<(), RepoError>;
    /// Replaces the operator-editable fields (name, upstream, hostnames, filter, enabled,
    /// interval, updated_at); `false` when no such configuration. `Conflict` on a taken name.
    async fn update_config(&self, config: &MirrorConfigRecord) -> Result<bool, RepoError>;
    /// Removes the configuration and its history; mirrored content stays (another
    /// configuration may serve it). `false` when no such configuration.
    async fn delete_config(&self, id: Uuid) -> Result<bool, RepoError>;
    async fn find_config(&self, id: Uuid) -> Result<Option<MirrorConfigRecord>, RepoError>;
    /// Ordered by name.
    async fn list_configs(&self) -> Result<Vec<MirrorConfigRecord>, RepoError>;

    /// Takes or renews the sync lease of a configuration: succeeds when nobody holds it,
    /// the holder's lease expired before `now`, or `holder` already holds it. Atomic
    /// across replicas sharing the database.
    async fn try_lease(
        &self,
        config_id: Uuid,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// Gives the lease up if `holder` holds it.
    async fn release_lease(&self, config_id: Uuid, holder: &str) -> Result<(), RepoError>;

    /// Records a run. A scheduled or manual run (started) also sets the configuration's
    /// `last_sync_at` to its start; a pull-through record (already finished) leaves the
    /// schedule alone.
    async fn insert_run(&self, run: &SyncRunRecord) -> Result<(), RepoError>;
    /// Stores a run's outcome (status, counters, failures, finish time) and the
    /// configuration's `last_sync_status`.
    async fn finish_run(&self, run: &SyncRunRecord) -> Result<(), RepoError>;
    /// Newest first.
    async fn list_runs(
        &self,
        config_id: Uuid,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SyncRunRecord>, bool), RepoError>;
    /// Marks the configuration's runs still `running` as failed with `message` (and
    /// `finished_at = at`). Called by a new lease holder: a run left running then
    /// belonged to a replica that died.
    async fn fail_abandoned_runs(
        &self,
        config_id: Uuid,
        at: DateTime<Utc>,
        message: &str,
    ) -> Result<u64, RepoError>;

    /// The mirrored provider with every version and package; namespace and type are
    /// matched lower-case.
    async fn find_mirrored(
        &self,
        upstream: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Option<MirroredProvider>, RepoError>;
    /// Creates the provider row when missing, then the version; when the version exists
    /// it is returned unchanged (the first verified SHA256SUMS stays).
    async fn ensure_version(
        &self,
        new: NewMirroredVersion,
    ) -> Result<MirroredVersionRecord, RepoError>;
    /// `Conflict` when the version already has this platform.
    async fn insert_package(
        &self,
        new: NewMirroredPackage,
    ) -> Result<MirroredPackageRecord, RepoError>;
    async fn mark_synced(
        &self,
        upstream: &RegistryHost,
        address: &ProviderAddress,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    async fn list_mirrored(&self, query: &MirroredListQuery) -> Result<MirroredPage, RepoError>;
}
