//! `MirrorRepository` on sea-orm. Mirrored content is keyed by upstream host and
//! lower-case `namespace/type`; the sync lease is two columns of the configuration row,
//! taken with one conditional `UPDATE` so replicas sharing the database never both hold it.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
};
use serde_json::{Value, json};
use tfr_core::{MirrorFilter, Platform, ProviderAddress, RegistryHost, VersionConstraint};
use tfr_ports::driven::{
    MirrorConfigRecord, MirrorRepository, MirroredListQuery, MirroredPackageRecord, MirroredPage,
    MirroredProvider, MirroredProviderRecord, MirroredVersionRecord, NewMirroredPackage,
    NewMirroredVersion, PackageFailure, RepoError, SyncRunRecord, SyncStatus, SyncTrigger,
};
use uuid::Uuid;

use crate::common::{begin_write, contains_pattern, page_bounds, search_term};
use crate::entities::{
    mirror_configuration as config, mirror_sync_history as history, mirrored_provider as provider,
    mirrored_provider_package as package, mirrored_provider_version as version,
};
use crate::error::{corrupt, db_err, db_err_conflict, to_i64, to_u64};
use crate::provider_rows::blob_key;

const CONFIGS: &str = "mirror_configurations";
const HISTORY: &str = "mirror_sync_history";
const PROVIDERS: &str = "mirrored_providers";
const VERSIONS: &str = "mirrored_provider_versions";
const PACKAGES: &str = "mirrored_provider_packages";

/// Mirror configurations, sync history and mirrored content, backed by a sea-orm pool.
#[derive(Debug, Clone)]
pub struct SeaOrmMirrorRepository {
    db: DatabaseConnection,
}

impl SeaOrmMirrorRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

// ---------------------------------------------------------------- rows

fn strings_from_json(table: &'static str, value: Value) -> Result<Vec<String>, RepoError> {
    serde_json::from_value(value).map_err(|e| corrupt(table, e.to_string()))
}

fn parse_all<T, E: ToString>(
    table: &'static str,
    value: Value,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, RepoError> {
    strings_from_json(table, value)?
        .iter()
        .map(|s| parse(s).map_err(|e| corrupt(table, e.to_string())))
        .collect()
}

fn status(table: &'static str, value: &str) -> Result<SyncStatus, RepoError> {
    SyncStatus::parse(value).ok_or_else(|| corrupt(table, format!("unknown status {value:?}")))
}

fn host(table: &'static str, value: &str) -> Result<RegistryHost, RepoError> {
    RegistryHost::parse(value).map_err(|e| corrupt(table, e.to_string()))
}

/// The operator-editable columns; id, lease and sync state are left unset.
fn editable_columns(c: &MirrorConfigRecord) -> Result<config::ActiveModel, RepoError> {
    let f = &c.filter;
    Ok(config::ActiveModel {
        name: Set(c.name.clone()),
        upstream: Set(c.upstream.as_str().to_string()),
        hostnames: Set(json!(
            c.hostnames
                .iter()
                .map(RegistryHost::as_str)
                .collect::<Vec<_>>()
        )),
        namespaces: Set(json!(f.namespaces)),
        provider_types: Set(json!(f.provider_types)),
        version_constraint: Set(f.versions.as_ref().map(ToString::to_string)),
        platforms: Set(json!(
            f.platforms
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        )),
        enabled: Set(c.enabled),
        sync_interval_secs: Set(to_i64(CONFIGS, c.sync_interval_secs)?),
        updated_at: Set(c.updated_at),
        ..Default::default()
    })
}

fn config_record(row: config::Model) -> Result<MirrorConfigRecord, RepoError> {
    let versions = row
        .version_constraint
        .as_deref()
        .map(VersionConstraint::parse)
        .transpose()
        .map_err(|e| corrupt(CONFIGS, e.to_string()))?;
    Ok(MirrorConfigRecord {
        id: row.id,
        upstream: host(CONFIGS, &row.upstream)?,
        hostnames: parse_all(CONFIGS, row.hostnames, RegistryHost::parse)?,
        filter: MirrorFilter {
            namespaces: strings_from_json(CONFIGS, row.namespaces)?,
            provider_types: strings_from_json(CONFIGS, row.provider_types)?,
            versions,
            platforms: parse_all(CONFIGS, row.platforms, Platform::parse)?,
        },
        enabled: row.enabled,
        sync_interval_secs: to_u64(CONFIGS, row.sync_interval_secs)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_sync_at: row.last_sync_at,
        last_sync_status: row
            .last_sync_status
            .as_deref()
            .map(|s| status(CONFIGS, s))
            .transpose()?,
        name: row.name,
    })
}

fn failures_json(failures: &[PackageFailure]) -> Value {
    Value::Array(
        failures
            .iter()
            .map(|f| {
                json!({
                    "provider": f.provider,
                    "version": f.version,
                    "platform": f.platform,
                    "reason": f.reason,
                })
            })
            .collect(),
    )
}

fn failures_from_json(value: Value) -> Result<Vec<PackageFailure>, RepoError> {
    let bad = || corrupt(HISTORY, "failures must be an array of objects");
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|v| {
            Ok(PackageFailure {
                provider: text(v, "provider").ok_or_else(bad)?,
                version: text(v, "version"),
                platform: text(v, "platform"),
                reason: text(v, "reason").ok_or_else(bad)?,
            })
        })
        .collect()
}

fn run_record(row: history::Model) -> Result<SyncRunRecord, RepoError> {
    Ok(SyncRunRecord {
        id: row.id,
        config_id: row.config_id,
        trigger: SyncTrigger::parse(&row.trigger)
            .ok_or_else(|| corrupt(HISTORY, format!("unknown trigger {:?}", row.trigger)))?,
        holder: row.holder,
        started_at: row.started_at,
        finished_at: row.finished_at,
        status: status(HISTORY, &row.status)?,
        versions_fetched: to_u64(HISTORY, row.versions_fetched)?,
        packages_fetched: to_u64(HISTORY, row.packages_fetched)?,
        bytes_fetched: to_u64(HISTORY, row.bytes_fetched)?,
        failures: failures_from_json(row.failures)?,
        message: row.message,
    })
}

/// The outcome columns `finish_run` writes.
fn outcome_columns(run: &SyncRunRecord) -> Result<history::ActiveModel, RepoError> {
    Ok(history::ActiveModel {
        finished_at: Set(run.finished_at),
        status: Set(run.status.as_str().to_string()),
        versions_fetched: Set(to_i64(HISTORY, run.versions_fetched)?),
        packages_fetched: Set(to_i64(HISTORY, run.packages_fetched)?),
        bytes_fetched: Set(to_i64(HISTORY, run.bytes_fetched)?),
        failures: Set(failures_json(&run.failures)),
        message: Set(run.message.clone()),
        ..Default::default()
    })
}

fn provider_record(row: provider::Model) -> Result<MirroredProviderRecord, RepoError> {
    Ok(MirroredProviderRecord {
        id: row.id,
        upstream: host(PROVIDERS, &row.upstream)?,
        namespace: row.namespace,
        provider_type: row.provider_type,
        created_at: row.created_at,
        last_synced_at: row.last_synced_at,
    })
}

fn package_record(row: package::Model) -> Result<MirroredPackageRecord, RepoError> {
    Ok(MirroredPackageRecord {
        id: row.id,
        platform: Platform::new(&row.os, &row.arch)
            .map_err(|e| corrupt(PACKAGES, e.to_string()))?,
        size: to_u64(PACKAGES, row.size)?,
        blob_key: blob_key(PACKAGES, &row.blob_key)?,
        filename: row.filename,
        sha256: row.sha256,
        h1: row.h1,
        fetched_at: row.fetched_at,
    })
}

fn version_record(
    row: version::Model,
    packages: Vec<MirroredPackageRecord>,
) -> Result<MirroredVersionRecord, RepoError> {
    Ok(MirroredVersionRecord {
        id: row.id,
        protocols: strings_from_json(VERSIONS, row.protocols)?,
        version: row.version,
        shasums: row.shasums,
        key_fingerprint: row.key_fingerprint,
        verified_at: row.verified_at,
        packages,
    })
}

/// The stored (lower-case) lookup key of an address.
fn address_key(address: &ProviderAddress) -> (String, String) {
    (
        address.namespace.key(),
        address.provider_type.as_str().to_ascii_lowercase(),
    )
}

fn provider_filter(upstream: &RegistryHost, address: &ProviderAddress) -> Condition {
    let (namespace, provider_type) = address_key(address);
    Condition::all()
        .add(provider::Column::Upstream.eq(upstream.as_str()))
        .add(provider::Column::Namespace.eq(namespace))
        .add(provider::Column::ProviderType.eq(provider_type))
}

/// Packages of `version_ids` by version, sorted by os and arch: one query.
async fn load_packages(
    db: &impl ConnectionTrait,
    version_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<MirroredPackageRecord>>, RepoError> {
    let mut out: HashMap<Uuid, Vec<MirroredPackageRecord>> = HashMap::new();
    if version_ids.is_empty() {
        return Ok(out);
    }
    let rows = package::Entity::find()
        .filter(package::Column::VersionId.is_in(version_ids))
        .order_by_asc(package::Column::Os)
        .order_by_asc(package::Column::Arch)
        .all(db)
        .await
        .map_err(db_err)?;
    for row in rows {
        out.entry(row.version_id)
            .or_default()
            .push(package_record(row)?);
    }
    Ok(out)
}

/// Versions (oldest id first) with their packages, by provider: two queries.
async fn load_versions(
    db: &impl ConnectionTrait,
    provider_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<MirroredVersionRecord>>, RepoError> {
    let mut out: HashMap<Uuid, Vec<MirroredVersionRecord>> = HashMap::new();
    if provider_ids.is_empty() {
        return Ok(out);
    }
    let rows = version::Entity::find()
        .filter(version::Column::ProviderId.is_in(provider_ids))
        .order_by_asc(version::Column::Id)
        .all(db)
        .await
        .map_err(db_err)?;
    let mut packages = load_packages(db, rows.iter().map(|v| v.id).collect()).await?;
    for row in rows {
        let provider_id = row.provider_id;
        let version_packages = packages.remove(&row.id).unwrap_or_default();
        out.entry(provider_id)
            .or_default()
            .push(version_record(row, version_packages)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------- the port

#[async_trait]
impl MirrorRepository for SeaOrmMirrorRepository {
    async fn insert_config(&self, c: &MirrorConfigRecord) -> Result<(), RepoError> {
        let mut row = editable_columns(c)?;
        row.id = Set(c.id);
        row.created_at = Set(c.created_at);
        row.last_sync_at = Set(c.last_sync_at);
        row.last_sync_status = Set(c.last_sync_status.map(|s| s.as_str().to_string()));
        row.lease_holder = Set(None);
        row.lease_expires_at = Set(None);
        config::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| {
                db_err_conflict(e, || {
                    format!("mirror configuration {:?} already exists", c.name)
                })
            })?;
        Ok(())
    }

    async fn update_config(&self, c: &MirrorConfigRecord) -> Result<bool, RepoError> {
        let updated = config::Entity::update_many()
            .set(editable_columns(c)?)
            .filter(config::Column::Id.eq(c.id))
            .exec(&self.db)
            .await
            .map_err(|e| {
                db_err_conflict(e, || {
                    format!("mirror configuration {:?} already exists", c.name)
                })
            })?;
        Ok(updated.rows_affected == 1)
    }

    async fn delete_config(&self, id: Uuid) -> Result<bool, RepoError> {
        // The foreign key cascades too; deleting history first does not depend on it.
        let txn = begin_write(&self.db).await?;
        history::Entity::delete_many()
            .filter(history::Column::ConfigId.eq(id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let deleted = config::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(deleted.rows_affected == 1)
    }

    async fn find_config(&self, id: Uuid) -> Result<Option<MirrorConfigRecord>, RepoError> {
        config::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(config_record)
            .transpose()
    }

    async fn list_configs(&self) -> Result<Vec<MirrorConfigRecord>, RepoError> {
        config::Entity::find()
            .order_by_asc(config::Column::Name)
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(config_record)
            .collect()
    }

    async fn try_lease(
        &self,
        config_id: Uuid,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        // One statement: PostgreSQL re-checks the condition on the row a concurrent
        // winner committed, and SQLite serialises writers.
        let taken = config::Entity::update_many()
            .col_expr(config::Column::LeaseHolder, Expr::value(holder))
            .col_expr(config::Column::LeaseExpiresAt, Expr::value(until))
            .filter(config::Column::Id.eq(config_id))
            .filter(
                Condition::any()
                    .add(config::Column::LeaseHolder.is_null())
                    .add(config::Column::LeaseExpiresAt.lt(now))
                    .add(config::Column::LeaseHolder.eq(holder)),
            )
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(taken.rows_affected == 1)
    }

    async fn release_lease(&self, config_id: Uuid, holder: &str) -> Result<(), RepoError> {
        config::Entity::update_many()
            .col_expr(
                config::Column::LeaseHolder,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                config::Column::LeaseExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(config::Column::Id.eq(config_id))
            .filter(config::Column::LeaseHolder.eq(holder))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_run(&self, run: &SyncRunRecord) -> Result<(), RepoError> {
        let txn = begin_write(&self.db).await?;
        history::Entity::insert(history::ActiveModel {
            id: Set(run.id),
            config_id: Set(run.config_id),
            trigger: Set(run.trigger.as_str().to_string()),
            holder: Set(run.holder.clone()),
            started_at: Set(run.started_at),
            ..outcome_columns(run)?
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| db_err_conflict(e, || format!("sync run {} already exists", run.id)))?;
        if run.trigger != SyncTrigger::PullThrough {
            config::Entity::update_many()
                .col_expr(config::Column::LastSyncAt, Expr::value(run.started_at))
                .filter(config::Column::Id.eq(run.config_id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)
    }

    /// A run that no longer exists (its configuration was deleted) is ignored.
    async fn finish_run(&self, run: &SyncRunRecord) -> Result<(), RepoError> {
        let txn = begin_write(&self.db).await?;
        let updated = history::Entity::update_many()
            .set(outcome_columns(run)?)
            .filter(history::Column::Id.eq(run.id))
            .filter(history::Column::ConfigId.eq(run.config_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 1 {
            config::Entity::update_many()
                .col_expr(
                    config::Column::LastSyncStatus,
                    Expr::value(run.status.as_str()),
                )
                .filter(config::Column::Id.eq(run.config_id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)
    }

    async fn list_runs(
        &self,
        config_id: Uuid,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SyncRunRecord>, bool), RepoError> {
        let (offset, fetch) = page_bounds(offset, limit);
        let mut rows = history::Entity::find()
            .filter(history::Column::ConfigId.eq(config_id))
            .order_by_desc(history::Column::StartedAt)
            .order_by_desc(history::Column::Id)
            .offset(offset)
            .limit(fetch)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let has_more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let runs = rows.into_iter().map(run_record).collect::<Result<_, _>>()?;
        Ok((runs, has_more))
    }

    async fn fail_abandoned_runs(
        &self,
        config_id: Uuid,
        at: DateTime<Utc>,
        message: &str,
    ) -> Result<u64, RepoError> {
        let failed = history::Entity::update_many()
            .col_expr(
                history::Column::Status,
                Expr::value(SyncStatus::Failed.as_str()),
            )
            .col_expr(history::Column::FinishedAt, Expr::value(at))
            .col_expr(history::Column::Message, Expr::value(message))
            .filter(history::Column::ConfigId.eq(config_id))
            .filter(history::Column::Status.eq(SyncStatus::Running.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(failed.rows_affected)
    }

    async fn find_mirrored(
        &self,
        upstream: &RegistryHost,
        address: &ProviderAddress,
    ) -> Result<Option<MirroredProvider>, RepoError> {
        let Some(row) = provider::Entity::find()
            .filter(provider_filter(upstream, address))
            .one(&self.db)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let versions = load_versions(&self.db, vec![row.id])
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        Ok(Some(MirroredProvider {
            provider: provider_record(row)?,
            versions,
        }))
    }

    async fn ensure_version(
        &self,
        new: NewMirroredVersion,
    ) -> Result<MirroredVersionRecord, RepoError> {
        let (namespace, provider_type) = address_key(&new.address);
        let txn = begin_write(&self.db).await?;
        // Racing replicas: the loser's insert waits for the winner's row, then does
        // nothing, and the re-read sees that row.
        provider::Entity::insert(provider::ActiveModel {
            id: Set(Uuid::now_v7()),
            upstream: Set(new.upstream.as_str().to_string()),
            namespace: Set(namespace),
            provider_type: Set(provider_type),
            created_at: Set(new.verified_at),
            last_synced_at: Set(None),
        })
        .on_conflict_do_nothing_on([
            provider::Column::Upstream,
            provider::Column::Namespace,
            provider::Column::ProviderType,
        ])
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        let provider = provider::Entity::find()
            .filter(provider_filter(&new.upstream, &new.address))
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| corrupt(PROVIDERS, "mirrored provider vanished after insert"))?;
        let protocols = json!(new.protocols);
        let inserted = version::Entity::insert(version::ActiveModel {
            id: Set(new.id),
            provider_id: Set(provider.id),
            version: Set(new.version.clone()),
            protocols: Set(protocols),
            shasums: Set(new.shasums.clone()),
            key_fingerprint: Set(new.key_fingerprint.clone()),
            verified_at: Set(new.verified_at),
        })
        .on_conflict_do_nothing_on([version::Column::ProviderId, version::Column::Version])
        .exec_without_returning(&txn)
        .await
        .map_err(|e| {
            db_err_conflict(e, || format!("mirrored version {} already exists", new.id))
        })?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            txn.commit().await.map_err(db_err)?;
            return Ok(MirroredVersionRecord {
                id: new.id,
                version: new.version,
                protocols: new.protocols,
                shasums: new.shasums,
                key_fingerprint: new.key_fingerprint,
                verified_at: new.verified_at,
                packages: vec![],
            });
        }
        let existing = version::Entity::find()
            .filter(version::Column::ProviderId.eq(provider.id))
            .filter(version::Column::Version.eq(new.version.as_str()))
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| corrupt(VERSIONS, "mirrored version vanished after insert"))?;
        let packages = load_packages(&txn, vec![existing.id])
            .await?
            .remove(&existing.id)
            .unwrap_or_default();
        txn.commit().await.map_err(db_err)?;
        version_record(existing, packages)
    }

    async fn insert_package(
        &self,
        new: NewMirroredPackage,
    ) -> Result<MirroredPackageRecord, RepoError> {
        package::Entity::insert(package::ActiveModel {
            id: Set(new.id),
            version_id: Set(new.version_id),
            os: Set(new.platform.os().to_string()),
            arch: Set(new.platform.arch().to_string()),
            filename: Set(new.filename.clone()),
            sha256: Set(new.sha256.clone()),
            h1: Set(new.h1.clone()),
            size: Set(to_i64(PACKAGES, new.size)?),
            blob_key: Set(new.blob_key.as_str().to_string()),
            fetched_at: Set(new.fetched_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| {
            db_err_conflict(e, || {
                format!(
                    "mirrored version {} already has {}",
                    new.version_id, new.platform
                )
            })
        })?;
        Ok(MirroredPackageRecord {
            id: new.id,
            platform: new.platform,
            filename: new.filename,
            sha256: new.sha256,
            h1: new.h1,
            size: new.size,
            blob_key: new.blob_key,
            fetched_at: new.fetched_at,
        })
    }

    async fn mark_synced(
        &self,
        upstream: &RegistryHost,
        address: &ProviderAddress,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        provider::Entity::update_many()
            .col_expr(provider::Column::LastSyncedAt, Expr::value(at))
            .filter(provider_filter(upstream, address))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list_mirrored(&self, query: &MirroredListQuery) -> Result<MirroredPage, RepoError> {
        let mut select = provider::Entity::find();
        if let Some(ns) = &query.namespace {
            select = select.filter(provider::Column::Namespace.eq(ns.to_ascii_lowercase()));
        }
        if let Some(term) = search_term(&query.search) {
            select = select.filter(
                Condition::any()
                    .add(provider::Column::Namespace.like(contains_pattern(term)))
                    .add(provider::Column::ProviderType.like(contains_pattern(term))),
            );
        }
        let (offset, fetch) = page_bounds(query.offset, query.limit);
        let mut rows = select
            .order_by_asc(provider::Column::Upstream)
            .order_by_asc(provider::Column::Namespace)
            .order_by_asc(provider::Column::ProviderType)
            .offset(offset)
            .limit(fetch)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let has_more = rows.len() as u64 > query.limit;
        rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
        let mut versions = load_versions(&self.db, rows.iter().map(|p| p.id).collect()).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let versions = versions.remove(&row.id).unwrap_or_default();
                Ok(MirroredProvider {
                    provider: provider_record(row)?,
                    versions,
                })
            })
            .collect::<Result<_, RepoError>>()?;
        Ok(MirroredPage { items, has_more })
    }
}
