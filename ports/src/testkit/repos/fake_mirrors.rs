//! `InMemoryMirrorRepository`.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tfr_core::{ProviderAddress, RegistryHost};
use uuid::Uuid;

use super::{lock, page, search_term};
use crate::driven::{
    MirrorConfigRecord, MirrorRepository, MirroredListQuery, MirroredPackageRecord, MirroredPage,
    MirroredProvider, MirroredProviderRecord, MirroredVersionRecord, NewMirroredPackage,
    NewMirroredVersion, RepoError, SyncRunRecord, SyncStatus, SyncTrigger,
};

#[derive(Debug)]
struct Lease {
    holder: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    configs: Vec<(MirrorConfigRecord, Option<Lease>)>,
    runs: Vec<SyncRunRecord>,
    providers: Vec<MirroredProviderRecord>,
    /// Versions with their provider id; `packages` is always empty here.
    versions: Vec<(Uuid, MirroredVersionRecord)>,
    /// Packages with their version id.
    packages: Vec<(Uuid, MirroredPackageRecord)>,
}

/// Mirror configurations, runs and mirrored content in memory, with the adapters'
/// ordering: configurations by name, runs newest first, providers by upstream,
/// namespace and type, versions by id, packages by platform.
#[derive(Debug, Default)]
pub struct InMemoryMirrorRepository(Mutex<State>);

impl InMemoryMirrorRepository {
    pub fn new() -> Self {
        Self::default()
    }
}

fn name_taken(name: &str) -> RepoError {
    RepoError::Conflict(format!("mirror configuration {name:?} already exists"))
}

fn matches(p: &MirroredProviderRecord, upstream: &RegistryHost, address: &ProviderAddress) -> bool {
    p.upstream == *upstream
        && p.namespace == address.namespace.key()
        && p.provider_type == address.provider_type.as_str().to_ascii_lowercase()
}

impl State {
    fn config_mut(&mut self, id: Uuid) -> Option<&mut (MirrorConfigRecord, Option<Lease>)> {
        self.configs.iter_mut().find(|(c, _)| c.id == id)
    }

    fn with_packages(&self, version: &MirroredVersionRecord) -> MirroredVersionRecord {
        let mut packages: Vec<_> = self
            .packages
            .iter()
            .filter(|(v, _)| *v == version.id)
            .map(|(_, p)| p.clone())
            .collect();
        packages.sort_by(|a, b| a.platform.cmp(&b.platform));
        MirroredVersionRecord {
            packages,
            ..version.clone()
        }
    }

    fn assemble(&self, provider: &MirroredProviderRecord) -> MirroredProvider {
        let mut versions: Vec<_> = self
            .versions
            .iter()
            .filter(|(p, _)| *p == provider.id)
            .map(|(_, v)| self.with_packages(v))
            .collect();
        versions.sort_by_key(|v| v.id);
        MirroredProvider {
            provider: provider.clone(),
            versions,
        }
    }
}

#[async_trait]
impl MirrorRepository for InMemoryMirrorRepository {
    async fn insert_config(&self, config: &MirrorConfigRecord) -> Result<(), RepoError> {
        let mut s = lock(&self.0);
        if s.configs.iter().any(|(c, _)| c.name == config.name) {
            return Err(name_taken(&config.name));
        }
        if s.configs.iter().any(|(c, _)| c.id == config.id) {
            return Err(RepoError::Conflict(format!(
                "mirror configuration {} already exists",
                config.id
            )));
        }
        s.configs.push((config.clone(), None));
        Ok(())
    }

    async fn update_config(&self, config: &MirrorConfigRecord) -> Result<bool, RepoError> {
        let mut s = lock(&self.0);
        if s.config_mut(config.id).is_none() {
            return Ok(false);
        }
        if s.configs
            .iter()
            .any(|(c, _)| c.name == config.name && c.id != config.id)
        {
            return Err(name_taken(&config.name));
        }
        let Some((c, _)) = s.config_mut(config.id) else {
            return Ok(false);
        };
        *c = MirrorConfigRecord {
            id: c.id,
            created_at: c.created_at,
            last_sync_at: c.last_sync_at,
            last_sync_status: c.last_sync_status,
            ..config.clone()
        };
        Ok(true)
    }

    async fn delete_config(&self, id: Uuid) -> Result<bool, RepoError> {
        let mut s = lock(&self.0);
        let before = s.configs.len();
        s.configs.retain(|(c, _)| c.id != id);
        if s.configs.len() == before {
            return Ok(false);
        }
        s.runs.retain(|r| r.config_id != id);
        Ok(true)
    }

    async fn find_config(&self, id: Uuid) -> Result<Option<MirrorConfigRecord>, RepoError> {
        Ok(lock(&self.0)
            .configs
            .iter()
            .find(|(c, _)| c.id == id)
            .map(|(c, _)| c.clone()))
    }

    async fn list_configs(&self) -> Result<Vec<MirrorConfigRecord>, RepoError> {
        let mut out: Vec<_> = lock(&self.0)
            .configs
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn try_lease(
        &self,
        config_id: Uuid,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let mut s = lock(&self.0);
        let Some((_, lease)) = s.config_mut(config_id) else {
            return Ok(false);
        };
        let free = lease
            .as_ref()
            .is_none_or(|l| l.expires_at < now || l.holder == holder);
        if free {
            *lease = Some(Lease {
                holder: holder.to_string(),
                expires_at: until,
            });
        }
        Ok(free)
    }

    async fn release_lease(&self, config_id: Uuid, holder: &str) -> Result<(), RepoError> {
        let mut s = lock(&self.0);
        if let Some((_, lease)) = s.config_mut(config_id)
            && lease.as_ref().is_some_and(|l| l.holder == holder)
        {
            *lease = None;
        }
        Ok(())
    }

    async fn insert_run(&self, run: &SyncRunRecord) -> Result<(), RepoError> {
        let mut s = lock(&self.0);
        if s.runs.iter().any(|r| r.id == run.id) {
            return Err(RepoError::Conflict(format!(
                "sync run {} already exists",
                run.id
            )));
        }
        let Some((config, _)) = s.config_mut(run.config_id) else {
            return Err(RepoError::Conflict(format!(
                "referenced or referencing row: no mirror configuration {}",
                run.config_id
            )));
        };
        if run.trigger != SyncTrigger::PullThrough {
            config.last_sync_at = Some(run.started_at);
        }
        s.runs.push(run.clone());
        Ok(())
    }

    /// A run that no longer exists (its configuration was deleted) is ignored.
    async fn finish_run(&self, run: &SyncRunRecord) -> Result<(), RepoError> {
        let mut s = lock(&self.0);
        let Some(stored) = s
            .runs
            .iter_mut()
            .find(|r| r.id == run.id && r.config_id == run.config_id)
        else {
            return Ok(());
        };
        stored.finished_at = run.finished_at;
        stored.status = run.status;
        stored.versions_fetched = run.versions_fetched;
        stored.packages_fetched = run.packages_fetched;
        stored.bytes_fetched = run.bytes_fetched;
        stored.failures = run.failures.clone();
        stored.message = run.message.clone();
        if let Some((config, _)) = s.config_mut(run.config_id) {
            config.last_sync_status = Some(run.status);
        }
        Ok(())
    }

    async fn list_runs(
        &self,
        config_id: Uuid,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SyncRunRecord>, bool), RepoError> {
        let mut runs: Vec<_> = lock(&self.0)
            .runs
            .iter()
            .filter(|r| r.config_id == config_id)
            .cloned()
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse((r.started_at, r.id)));
        Ok(page(runs, offset, limit))
    }

    async fn fail_abandoned_runs(
        &self,
        config_id: Uuid,
        at: DateTime<Utc>,
        message: &str,
    ) -> Result<u64, RepoError> {
        let mut failed = 0;
        for run in lock(&self.0).runs.iter_mut() {
            if run.config_id == config_id && run.status == SyncStatus::Running {
                run.status = SyncStatus::Failed;
                run.finished_at = Some(at);
                run.message = Some(message.to_string());
                failed += 1;
            }
        }
        Ok(failed)
    }

    async fn find_mirrored(
        &self,
        upstream: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Option<MirroredProvider>, RepoError> {
        let s = lock(&self.0);
        Ok(s.providers
            .iter()
            .find(|p| matches(p, upstream, address))
            .map(|p| s.assemble(p)))
    }

    async fn ensure_version(
        &self,
        new: NewMirroredVersion,
    ) -> Result<MirroredVersionRecord, RepoError> {
        let mut s = lock(&self.0);
        let provider_id = match s
            .providers
            .iter()
            .find(|p| matches(p, &new.upstream, &new.address))
        {
            Some(p) => p.id,
            None => {
                let id = Uuid::now_v7();
                s.providers.push(MirroredProviderRecord {
                    id,
                    upstream: new.upstream.clone(),
                    namespace: new.address.namespace.key(),
                    provider_type: new.address.provider_type.as_str().to_ascii_lowercase(),
                    created_at: new.verified_at,
                    last_synced_at: None,
                });
                id
            }
        };
        if let Some((_, existing)) = s
            .versions
            .iter()
            .find(|(p, v)| *p == provider_id && v.version == new.version)
        {
            return Ok(s.with_packages(existing));
        }
        if s.versions.iter().any(|(_, v)| v.id == new.id) {
            return Err(RepoError::Conflict(format!(
                "mirrored version {} already exists",
                new.id
            )));
        }
        let record = new.into_record();
        s.versions.push((provider_id, record.clone()));
        Ok(record)
    }

    async fn insert_package(
        &self,
        new: NewMirroredPackage,
    ) -> Result<MirroredPackageRecord, RepoError> {
        let mut s = lock(&self.0);
        if !s.versions.iter().any(|(_, v)| v.id == new.version_id) {
            return Err(RepoError::Conflict(format!(
                "referenced or referencing row: no mirrored version {}",
                new.version_id
            )));
        }
        if s.packages
            .iter()
            .any(|(v, p)| p.id == new.id || (*v == new.version_id && p.platform == new.platform))
        {
            return Err(RepoError::Conflict(format!(
                "mirrored version {} already has {}",
                new.version_id, new.platform
            )));
        }
        let version_id = new.version_id;
        let record = new.into_record();
        s.packages.push((version_id, record.clone()));
        Ok(record)
    }

    async fn mark_synced(
        &self,
        upstream: &RegistryHost,
        address: &ProviderAddress,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let mut s = lock(&self.0);
        if let Some(p) = s
            .providers
            .iter_mut()
            .find(|p| matches(p, upstream, address))
        {
            p.last_synced_at = Some(at);
        }
        Ok(())
    }

    async fn list_mirrored(&self, query: &MirroredListQuery) -> Result<MirroredPage, RepoError> {
        let s = lock(&self.0);
        let namespace = query.namespace.as_deref().map(str::to_ascii_lowercase);
        let term = search_term(&query.search);
        let mut providers: Vec<_> = s
            .providers
            .iter()
            .filter(|p| namespace.as_ref().is_none_or(|ns| p.namespace == *ns))
            .filter(|p| {
                term.as_ref()
                    .is_none_or(|t| p.namespace.contains(t) || p.provider_type.contains(t))
            })
            .collect();
        providers.sort_by(|a, b| {
            (&a.upstream, &a.namespace, &a.provider_type).cmp(&(
                &b.upstream,
                &b.namespace,
                &b.provider_type,
            ))
        });
        let all: Vec<_> = providers.into_iter().map(|p| s.assemble(p)).collect();
        let (items, has_more) = page(all, query.offset, query.limit);
        Ok(MirroredPage { items, has_more })
    }
}
