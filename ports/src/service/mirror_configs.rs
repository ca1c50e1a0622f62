//! Managing mirror configurations (the admin API): validation of what an operator
//! sends, and the history of sync runs.

use std::sync::Arc;

use tfr_core::{
    MirrorFilter, Platform, ProviderAddress, ProviderType, RegistryHost, VersionConstraint,
};
use uuid::Uuid;

use crate::driven::{Clock, MirrorConfigRecord, MirrorRepository, RepoError, SyncRunRecord};
use crate::service::ServiceError;
use crate::service::mirror_catalog::MirrorCatalog;

/// Shortest and longest sync interval accepted.
pub const MIN_SYNC_INTERVAL_SECS: u64 = 60;
pub const MAX_SYNC_INTERVAL_SECS: u64 = 7 * 24 * 3600;
/// The seed's interval: provider releases are rare and upstreams rate-limit.
pub const DEFAULT_SYNC_INTERVAL_SECS: u64 = 600;

/// A configuration as an operator sends it (create and full update).
#[derive(Debug, Clone, Default)]
pub struct MirrorConfigInput {
    pub name: String,
    /// Default `registry.terraform.io`.
    pub upstream: Option<String>,
    /// Default: the upstream host alone.
    pub hostnames: Vec<String>,
    pub namespaces: Vec<String>,
    pub provider_types: Vec<String>,
    pub version_constraint: Option<String>,
    pub platforms: Vec<String>,
    pub enabled: bool,
    /// Default [`DEFAULT_SYNC_INTERVAL_SECS`].
    pub sync_interval_secs: Option<u64>,
}

pub struct MirrorConfigs {
    repo: Arc<dyn MirrorRepository>,
    catalog: Arc<MirrorCatalog>,
    clock: Arc<dyn Clock>,
}

fn not_found(id: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("mirror configuration {id} not found"))
}

/// A repository error on saving configuration `name`: a conflict is its name taken.
fn save_error(name: &str, err: RepoError) -> ServiceError {
    match err {
        RepoError::Conflict(_) => ServiceError::Conflict(format!(
            "a mirror configuration named {name:?} exists already"
        )),
        other => other.into(),
    }
}

/// The validated, normalised fields of an input.
struct Validated {
    name: String,
    upstream: RegistryHost,
    hostnames: Vec<RegistryHost>,
    filter: MirrorFilter,
    enabled: bool,
    sync_interval_secs: u64,
}

fn validate(input: MirrorConfigInput) -> Result<Validated, ServiceError> {
    let name = input.name.trim().to_string();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
    {
        return Err(ServiceError::invalid(
            "name",
            "name must be 1-64 characters: letters, digits, spaces, '-', '_' or '.'",
        ));
    }
    let upstream = match input
        .upstream
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(host) => RegistryHost::parse(host)
            .map_err(|e| ServiceError::invalid("upstream", e.to_string()))?,
        None => RegistryHost::terraform_registry(),
    };
    let mut hostnames = Vec::new();
    for host in &input.hostnames {
        let host = RegistryHost::parse(host)
            .map_err(|e| ServiceError::invalid("hostnames", e.to_string()))?;
        if !hostnames.contains(&host) {
            hostnames.push(host);
        }
    }
    if hostnames.is_empty() {
        hostnames.push(upstream.clone());
    }
    let mut namespaces = Vec::new();
    for ns in &input.namespaces {
        // The provider rule, narrower than a module namespace's (no '_'): a namespace
        // outside it could never match a provider.
        let parsed = ProviderAddress::parse(&ns.trim().to_ascii_lowercase(), "any")
            .map_err(|e| ServiceError::invalid("namespaces", e.to_string()))?;
        push_unique(&mut namespaces, parsed.namespace.key());
    }
    let mut provider_types = Vec::new();
    for ty in &input.provider_types {
        let parsed = ProviderType::parse(&ty.trim().to_ascii_lowercase())
            .map_err(|e| ServiceError::invalid("provider_types", e.to_string()))?;
        push_unique(&mut provider_types, parsed.as_str().to_string());
    }
    let versions = match input
        .version_constraint
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(text) => Some(
            VersionConstraint::parse(text)
                .map_err(|e| ServiceError::invalid("version_constraint", e.to_string()))?,
        ),
        None => None,
    };
    let mut platforms = Vec::new();
    for p in &input.platforms {
        let parsed = Platform::parse(p.trim())
            .map_err(|e| ServiceError::invalid("platforms", e.to_string()))?;
        if !platforms.contains(&parsed) {
            platforms.push(parsed);
        }
    }
    let sync_interval_secs = input
        .sync_interval_secs
        .unwrap_or(DEFAULT_SYNC_INTERVAL_SECS);
    if !(MIN_SYNC_INTERVAL_SECS..=MAX_SYNC_INTERVAL_SECS).contains(&sync_interval_secs) {
        return Err(ServiceError::invalid(
            "sync_interval_secs",
            format!(
                "sync_interval_secs must be between {MIN_SYNC_INTERVAL_SECS} and {MAX_SYNC_INTERVAL_SECS}"
            ),
        ));
    }
    Ok(Validated {
        name,
        upstream,
        hostnames,
        filter: MirrorFilter {
            namespaces,
            provider_types,
            versions,
            platforms,
        },
        enabled: input.enabled,
        sync_interval_secs,
    })
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

impl MirrorConfigs {
    pub fn new(
        repo: Arc<dyn MirrorRepository>,
        catalog: Arc<MirrorCatalog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            catalog,
            clock,
        }
    }

    pub async fn list(&self) -> Result<Vec<MirrorConfigRecord>, ServiceError> {
        Ok(self.repo.list_configs().await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<MirrorConfigRecord, ServiceError> {
        self.repo
            .find_config(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn create(
        &self,
        input: MirrorConfigInput,
    ) -> Result<MirrorConfigRecord, ServiceError> {
        let v = validate(input)?;
        let now = self.clock.now();
        let record = MirrorConfigRecord {
            id: Uuid::now_v7(),
            name: v.name,
            upstream: v.upstream,
            hostnames: v.hostnames,
            filter: v.filter,
            enabled: v.enabled,
            sync_interval_secs: v.sync_interval_secs,
            created_at: now,
            updated_at: now,
            last_sync_at: None,
            last_sync_status: None,
        };
        self.repo
            .insert_config(&record)
            .await
            .map_err(|e| save_error(&record.name, e))?;
        self.catalog.invalidate_configs();
        Ok(record)
    }

    pub async fn update(
        &self,
        id: Uuid,
        input: MirrorConfigInput,
    ) -> Result<MirrorConfigRecord, ServiceError> {
        let v = validate(input)?;
        let existing = self.get(id).await?;
        let record = MirrorConfigRecord {
            name: v.name,
            upstream: v.upstream,
            hostnames: v.hostnames,
            filter: v.filter,
            enabled: v.enabled,
            sync_interval_secs: v.sync_interval_secs,
            updated_at: self.clock.now(),
            ..existing
        };
        let updated = self
            .repo
            .update_config(&record)
            .await
            .map_err(|e| save_error(&record.name, e))?;
        if !updated {
            return Err(not_found(id));
        }
        self.catalog.invalidate_configs();
        Ok(record)
    }

    /// Removes the configuration and its history; mirrored packages stay stored.
    pub async fn delete(&self, id: Uuid) -> Result<(), ServiceError> {
        if !self.repo.delete_config(id).await? {
            return Err(not_found(id));
        }
        self.catalog.invalidate_configs();
        Ok(())
    }

    /// Sync runs, newest first.
    pub async fn history(
        &self,
        id: Uuid,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SyncRunRecord>, bool), ServiceError> {
        self.get(id).await?;
        Ok(self.repo.list_runs(id, offset, limit).await?)
    }
}
