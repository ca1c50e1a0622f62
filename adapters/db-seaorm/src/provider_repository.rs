//! `ProviderRepository` on sea-orm. Provider addresses are lower-case, so records report
//! the namespace's lower-case key.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tfr_core::{ProviderAddress, ProviderVersion};
use tfr_ports::driven::{
    NewProviderVersion, ProviderListQuery, ProviderPage, ProviderPlatformRecord,
    ProviderRepository, ProviderVersionRecord, ProviderWithVersions, RepoError,
};
use uuid::Uuid;

use crate::common::{
    begin_write, contains_pattern, ensure_namespace, fetch_page, search_term, visible_in,
};
use crate::entities::{namespace, provider, provider_platform, provider_version, signing_key};
use crate::error::{corrupt, db_err, db_err_conflict, to_i64};
use crate::provider_rows::{assemble, key_record, load_platforms, provider_record, version_record};

/// Providers, their versions, platforms and signing keys, backed by a sea-orm pool.
#[derive(Debug, Clone)]
pub struct SeaOrmProviderRepository {
    db: DatabaseConnection,
}

impl SeaOrmProviderRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The signing key of `new`'s namespace with the same fingerprint, added when missing.
/// An existing key takes the new upload's armor: it is what verified this version (a
/// newer export of the same primary key, e.g. with a signing subkey added), and every
/// version signed by that primary key is served the current export.
async fn ensure_signing_key(
    txn: &DatabaseTransaction,
    ns: &namespace::Model,
    new: &NewProviderVersion,
) -> Result<signing_key::Model, RepoError> {
    let key = &new.signing_key;
    signing_key::Entity::insert(signing_key::ActiveModel {
        id: Set(key.id),
        namespace_id: Set(ns.id),
        key_id: Set(key.key_id.clone()),
        fingerprint: Set(key.fingerprint.clone()),
        ascii_armor: Set(key.ascii_armor.clone()),
        source: Set(None),
        source_url: Set(None),
        created_at: Set(new.published_at),
    })
    .on_conflict(
        OnConflict::columns([
            signing_key::Column::NamespaceId,
            signing_key::Column::Fingerprint,
        ])
        .update_columns([signing_key::Column::AsciiArmor, signing_key::Column::KeyId])
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(db_err)?;
    signing_key::Entity::find()
        .filter(signing_key::Column::NamespaceId.eq(ns.id))
        .filter(signing_key::Column::Fingerprint.eq(key.fingerprint.as_str()))
        .one(txn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| corrupt("signing_keys", "signing key vanished after insert"))
}

async fn ensure_provider(
    txn: &DatabaseTransaction,
    ns: &namespace::Model,
    new: &NewProviderVersion,
) -> Result<provider::Model, RepoError> {
    let provider_type = new.address.provider_type.as_str();
    // As for modules: a concurrent delete of the last version may remove the row; the
    // shared lock waits for that delete, and then the row is created again.
    for _ in 0..3 {
        provider::Entity::insert(provider::ActiveModel {
            id: Set(Uuid::now_v7()),
            namespace_id: Set(ns.id),
            provider_type: Set(provider_type.to_string()),
            created_at: Set(new.published_at),
        })
        .on_conflict_do_nothing_on([
            provider::Column::NamespaceId,
            provider::Column::ProviderType,
        ])
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
        let row = provider::Entity::find()
            .filter(provider::Column::NamespaceId.eq(ns.id))
            .filter(provider::Column::ProviderType.eq(provider_type))
            .lock_shared()
            .one(txn)
            .await
            .map_err(db_err)?;
        if let Some(row) = row {
            return Ok(row);
        }
    }
    Err(RepoError::Unavailable(format!(
        "provider {} kept being deleted while publishing; retry",
        new.address
    )))
}

/// Versions of one provider address joined with their signing keys; `version` narrows to one.
async fn find_versions(
    db: &DatabaseConnection,
    address: &ProviderAddress,
    version: Option<&ProviderVersion>,
) -> Result<
    Vec<(
        provider::Model,
        Option<provider_version::Model>,
        Option<signing_key::Model>,
    )>,
    RepoError,
> {
    let mut select = provider::Entity::find()
        .inner_join(namespace::Entity)
        .filter(namespace::Column::NameKey.eq(address.namespace.key()))
        .filter(provider::Column::ProviderType.eq(address.provider_type.as_str()))
        .find_also_related(provider_version::Entity)
        .and_also_related(signing_key::Entity);
    if let Some(version) = version {
        select = select.filter(provider_version::Column::Version.eq(version.to_string()));
    }
    select
        .order_by_asc(provider_version::Column::Id)
        .all(db)
        .await
        .map_err(db_err)
}

#[async_trait]
impl ProviderRepository for SeaOrmProviderRepository {
    async fn insert_version(
        &self,
        new: NewProviderVersion,
    ) -> Result<ProviderVersionRecord, RepoError> {
        const T: &str = "provider_versions";
        let txn = begin_write(&self.db).await?;
        let ns = ensure_namespace(
            &txn,
            &new.address.namespace,
            new.namespace_organization,
            new.published_at,
        )
        .await?;
        let provider = ensure_provider(&txn, &ns, &new).await?;
        let key = ensure_signing_key(&txn, &ns, &new).await?;
        let protocols =
            serde_json::to_value(&new.protocols).map_err(|e| corrupt(T, e.to_string()))?;
        let conflict = || {
            format!(
                "provider {} version {} already exists",
                new.address, new.version
            )
        };
        provider_version::Entity::insert(provider_version::ActiveModel {
            id: Set(new.id),
            provider_id: Set(provider.id),
            version: Set(new.version.to_string()),
            protocols: Set(protocols),
            shasums_key: Set(new.shasums_key.as_str().to_string()),
            shasums_signature_key: Set(new.shasums_signature_key.as_str().to_string()),
            signing_key_id: Set(key.id),
            published_at: Set(new.published_at),
            published_by: Set(new.published_by),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| db_err_conflict(e, conflict))?;
        let mut platforms = Vec::with_capacity(new.platforms.len());
        for p in &new.platforms {
            platforms.push(provider_platform::ActiveModel {
                id: Set(p.id),
                provider_version_id: Set(new.id),
                os: Set(p.platform.os().to_string()),
                arch: Set(p.platform.arch().to_string()),
                filename: Set(p.filename.clone()),
                sha256: Set(p.sha256.clone()),
                size: Set(to_i64("provider_platforms", p.size)?),
                h1: Set(p.h1.clone()),
                blob_key: Set(p.blob_key.as_str().to_string()),
            });
        }
        if !platforms.is_empty() {
            provider_platform::Entity::insert_many(platforms)
                .exec_without_returning(&txn)
                .await
                .map_err(|e| {
                    db_err_conflict(e, || format!("duplicate platform in {}", conflict()))
                })?;
        }
        txn.commit().await.map_err(db_err)?;

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
        Ok(ProviderVersionRecord {
            id: new.id,
            provider_id: provider.id,
            version: new.version.to_string(),
            protocols: new.protocols,
            shasums_key: new.shasums_key,
            shasums_signature_key: new.shasums_signature_key,
            signing_key: key_record(key, &ns.name_key),
            platforms,
            published_at: new.published_at,
            published_by: new.published_by,
        })
    }

    async fn find_provider(
        &self,
        address: &ProviderAddress,
    ) -> Result<Option<ProviderWithVersions>, RepoError> {
        let namespace = address.namespace.key();
        let rows = find_versions(&self.db, address, None).await?;
        let Some(provider) = rows.first().map(|(p, _, _)| p.clone()) else {
            return Ok(None);
        };
        let versions = rows
            .into_iter()
            .filter_map(|(_, version, key)| version.map(|v| (v, key)))
            .collect();
        Ok(Some(ProviderWithVersions {
            provider: provider_record(provider, &namespace),
            versions: assemble(&self.db, &namespace, versions).await?,
        }))
    }

    async fn find_version(
        &self,
        address: &ProviderAddress,
        version: &ProviderVersion,
    ) -> Result<Option<ProviderVersionRecord>, RepoError> {
        let rows = find_versions(&self.db, address, Some(version)).await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter_map(|(_, version, key)| version.map(|v| (v, key)))
            .collect();
        Ok(assemble(&self.db, &address.namespace.key(), rows)
            .await?
            .into_iter()
            .next())
    }

    async fn delete_version(&self, version_id: Uuid) -> Result<bool, RepoError> {
        let txn = begin_write(&self.db).await?;
        let Some(version) = provider_version::Entity::find_by_id(version_id)
            .one(&txn)
            .await
            .map_err(db_err)?
        else {
            return Ok(false);
        };
        // Lock the provider row before counting what remains: a publish holding it (shared)
        // is seen by the count; one arriving later waits for us and recreates the row.
        provider::Entity::find_by_id(version.provider_id)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(db_err)?;
        provider_platform::Entity::delete_many()
            .filter(provider_platform::Column::ProviderVersionId.eq(version_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        provider_version::Entity::delete_by_id(version_id)
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let remaining = provider_version::Entity::find()
            .filter(provider_version::Column::ProviderId.eq(version.provider_id))
            .count(&txn)
            .await
            .map_err(db_err)?;
        if remaining == 0 {
            provider::Entity::delete_by_id(version.provider_id)
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn list(&self, query: &ProviderListQuery) -> Result<ProviderPage, RepoError> {
        let mut select = provider::Entity::find().find_also_related(namespace::Entity);
        if let Some(ns) = &query.namespace {
            select = select.filter(namespace::Column::NameKey.eq(ns.to_ascii_lowercase()));
        }
        if let Some(organizations) = &query.organizations {
            select = select.filter(visible_in(organizations));
        }
        if let Some(term) = search_term(&query.search) {
            select = select.filter(
                Condition::any()
                    .add(namespace::Column::NameKey.like(contains_pattern(term)))
                    .add(provider::Column::ProviderType.like(contains_pattern(term))),
            );
        }
        let select = select
            .order_by_asc(namespace::Column::NameKey)
            .order_by_asc(provider::Column::ProviderType);
        let (rows, has_more) =
            fetch_page(select, query.offset, query.limit, |q| q.all(&self.db)).await?;
        if rows.is_empty() {
            return Ok(ProviderPage {
                items: vec![],
                has_more,
            });
        }

        // Versions with their keys for the whole page, then their platforms: two queries.
        let ids: Vec<Uuid> = rows.iter().map(|(p, _)| p.id).collect();
        let version_rows = provider_version::Entity::find()
            .find_also_related(signing_key::Entity)
            .filter(provider_version::Column::ProviderId.is_in(ids))
            .order_by_asc(provider_version::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let mut platforms =
            load_platforms(&self.db, version_rows.iter().map(|(v, _)| v.id).collect()).await?;
        let mut versions: HashMap<Uuid, Vec<ProviderVersionRecord>> = HashMap::new();
        let ns_of: HashMap<Uuid, String> = rows
            .iter()
            .filter_map(|(p, ns)| ns.as_ref().map(|ns| (p.id, ns.name_key.clone())))
            .collect();
        for (version, key) in version_rows {
            let namespace = ns_of
                .get(&version.provider_id)
                .map(String::as_str)
                .unwrap_or_default();
            let key =
                key.ok_or_else(|| corrupt("provider_versions", "version without signing key"))?;
            let key = key_record(key, namespace);
            let version_platforms = platforms.remove(&version.id).unwrap_or_default();
            let record = version_record(version, key, version_platforms)?;
            versions.entry(record.provider_id).or_default().push(record);
        }
        let items = rows
            .into_iter()
            .map(|(provider, ns)| {
                let ns = ns.ok_or_else(|| corrupt("providers", "provider without namespace"))?;
                let versions = versions.remove(&provider.id).unwrap_or_default();
                Ok(ProviderWithVersions {
                    provider: provider_record(provider, &ns.name_key),
                    versions,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(ProviderPage { items, has_more })
    }
}
