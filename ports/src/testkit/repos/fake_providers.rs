//! `InMemoryProviderRepository`.

use std::sync::Mutex;

use async_trait::async_trait;
use tfr_core::{Platform, ProviderAddress, ProviderVersion};
use uuid::Uuid;

use super::{InMemoryNamespaceRepository, lock, page, search_term};
use crate::driven::{
    NewProviderVersion, ProviderListQuery, ProviderPage, ProviderPlatformRecord, ProviderRecord,
    ProviderRepository, ProviderVersionRecord, ProviderWithVersions, RepoError, SigningKeyRecord,
};

#[derive(Debug, Default)]
struct ProviderState {
    providers: Vec<ProviderRecord>,
    keys: Vec<SigningKeyRecord>,
    versions: Vec<ProviderVersionRecord>,
}

impl ProviderState {
    fn provider(&self, address: &ProviderAddress) -> Option<&ProviderRecord> {
        let ns = address.namespace.key();
        self.providers
            .iter()
            .find(|p| p.namespace == ns && p.provider_type == address.provider_type.as_str())
    }
    fn versions_of(&self, provider_id: Uuid) -> Vec<ProviderVersionRecord> {
        let mut out: Vec<_> = self
            .versions
            .iter()
            .filter(|v| v.provider_id == provider_id)
            .cloned()
            .collect();
        out.sort_by_key(|v| v.id);
        out
    }
}

/// Providers in memory. Records report the namespace in lower case, like the adapters.
/// Namespaces live in an [`InMemoryNamespaceRepository`] (its own, or a shared one).
#[derive(Debug, Default)]
pub struct InMemoryProviderRepository {
    state: Mutex<ProviderState>,
    namespaces: InMemoryNamespaceRepository,
}

impl InMemoryProviderRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Providers whose namespaces are created in, and filtered by, `namespaces`.
    pub fn with_namespaces(namespaces: &InMemoryNamespaceRepository) -> Self {
        Self {
            state: Mutex::default(),
            namespaces: namespaces.clone(),
        }
    }
}

#[async_trait]
impl ProviderRepository for InMemoryProviderRepository {
    async fn insert_version(
        &self,
        new: NewProviderVersion,
    ) -> Result<ProviderVersionRecord, RepoError> {
        let mut s = lock(&self.state);
        let version = new.version.to_string();
        let conflict = || {
            RepoError::Conflict(format!(
                "provider {} version {version} already exists",
                new.address
            ))
        };
        if let Some(p) = s.provider(&new.address)
            && s.versions
                .iter()
                .any(|v| v.provider_id == p.id && v.version == version)
        {
            return Err(conflict());
        }
        let mut platforms: Vec<Platform> =
            new.platforms.iter().map(|p| p.platform.clone()).collect();
        platforms.sort();
        platforms.dedup();
        if platforms.len() != new.platforms.len() || s.versions.iter().any(|v| v.id == new.id) {
            return Err(conflict());
        }
        let ns = new.address.namespace.key();
        self.namespaces.ensure(
            &new.address.namespace,
            new.namespace_organization,
            new.published_at,
        );
        let provider_id = match s.provider(&new.address) {
            Some(p) => p.id,
            None => {
                let id = Uuid::now_v7();
                s.providers.push(ProviderRecord {
                    id,
                    namespace: ns.clone(),
                    provider_type: new.address.provider_type.as_str().to_string(),
                    created_at: new.published_at,
                });
                id
            }
        };
        let fingerprint = &new.signing_key.fingerprint;
        let existing = s
            .keys
            .iter()
            .position(|k| k.namespace == ns && k.fingerprint == *fingerprint);
        let key = match existing {
            Some(at) => {
                // Same primary key: the newest export replaces the stored armor, for the
                // versions already published with it too (as the database does).
                let armor = new.signing_key.ascii_armor.clone();
                s.keys[at].ascii_armor = armor.clone();
                let id = s.keys[at].id;
                for version in s.versions.iter_mut().filter(|v| v.signing_key.id == id) {
                    version.signing_key.ascii_armor = armor.clone();
                }
                s.keys[at].clone()
            }
            None => {
                let k = SigningKeyRecord {
                    id: new.signing_key.id,
                    namespace: ns.clone(),
                    key_id: new.signing_key.key_id.clone(),
                    fingerprint: fingerprint.clone(),
                    ascii_armor: new.signing_key.ascii_armor.clone(),
                    source: None,
                    source_url: None,
                    created_at: new.published_at,
                };
                s.keys.push(k.clone());
                k
            }
        };
        let mut platforms: Vec<ProviderPlatformRecord> = new
            .platforms
            .into_iter()
            .map(|p| ProviderPlatformRecord {
                id: p.id,
                platform: p.platform,
                filename: p.filename,
                sha256: p.sha256,
                size: p.size,
                h1: p.h1,
                blob_key: p.blob_key,
            })
            .collect();
        platforms.sort_by(|a, b| a.platform.cmp(&b.platform));
        let record = ProviderVersionRecord {
            id: new.id,
            provider_id,
            version,
            protocols: new.protocols,
            shasums_key: new.shasums_key,
            shasums_signature_key: new.shasums_signature_key,
            signing_key: key,
            platforms,
            published_at: new.published_at,
            published_by: new.published_by,
        };
        s.versions.push(record.clone());
        Ok(record)
    }

    async fn find_provider(
        &self,
        address: &ProviderAddress,
    ) -> Result<Option<ProviderWithVersions>, RepoError> {
        let s = lock(&self.state);
        Ok(s.provider(address).map(|p| ProviderWithVersions {
            provider: p.clone(),
            versions: s.versions_of(p.id),
        }))
    }

    async fn find_version(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<Option<ProviderVersionRecord>, RepoError> {
        let s = lock(&self.state);
        let version = version.to_string();
        Ok(s.provider(address).and_then(|p| {
            s.versions
                .iter()
                .find(|v| v.provider_id == p.id && v.version == version)
                .cloned()
        }))
    }

    async fn delete_version(&self, version_id: Uuid) -> Result<bool, RepoError> {
        let mut s = lock(&self.state);
        let Some(pos) = s.versions.iter().position(|v| v.id == version_id) else {
            return Ok(false);
        };
        let provider_id = s.versions.remove(pos).provider_id;
        if !s.versions.iter().any(|v| v.provider_id == provider_id) {
            s.providers.retain(|p| p.id != provider_id);
        }
        Ok(true)
    }

    async fn list(&self, query: &ProviderListQuery) -> Result<ProviderPage, RepoError> {
        let s = lock(&self.state);
        let term = search_term(&query.search);
        let mut rows: Vec<&ProviderRecord> = s
            .providers
            .iter()
            .filter(|p| {
                query
                    .namespace
                    .as_ref()
                    .is_none_or(|q| q.to_ascii_lowercase() == p.namespace)
                    && self
                        .namespaces
                        .visible(&p.namespace, query.organizations.as_deref())
                    && term.as_ref().is_none_or(|t| {
                        p.namespace.contains(t.as_str()) || p.provider_type.contains(t.as_str())
                    })
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.namespace, &a.provider_type).cmp(&(&b.namespace, &b.provider_type))
        });
        let (rows, has_more) = page(rows, query.offset, query.limit);
        let items = rows
            .into_iter()
            .map(|p| ProviderWithVersions {
                provider: p.clone(),
                versions: s.versions_of(p.id),
            })
            .collect();
        Ok(ProviderPage { items, has_more })
    }
}
