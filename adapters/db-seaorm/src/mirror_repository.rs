//! `MirrorRepository` on sea-orm. Mirrored content is keyed by upstream host and
//! lower-case `namespace/type`; the sync lease is two columns of the configuration row,
//! taken with one conditional `UPDATE` so replicas sharing the database never both hold it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TryInsertResult,
};
use serde_json::json;
use tfr_core::{ProviderAddress, RegistryHost};
use tfr_ports::driven::{
    MirrorConfigRecord, MirrorRepository, MirroredListQuery, MirroredPackageRecord, MirroredPage,
    MirroredProvider, MirroredVersionRecord, NewMirroredPackage, NewMirroredVersion, RepoError,
    SyncRunRecord, SyncStatus, SyncTrigger,
};
use uuid::Uuid;

use crate::common::{begin_write, contains_pattern, fetch_page, search_term};
use crate::entities::{
    mirror_configuration as config, mirror_sync_history as history, mirrored_provider as provider,
    mirrored_provider_package as package, mirrored_provider_version as version,
};
use crate::error::{corrupt, db_err, db_err_conflict, to_i64};
use crate::mirror_rows::{
    PACKAGES, PROVIDERS, VERSIONS, config_record, editable_columns, load_packages, load_versions,
    outcome_columns, provider_record, run_record, version_record,
};

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

// ---------------------------------------------------------------- queries

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
        let select = history::Entity::find()
            .filter(history::Column::ConfigId.eq(config_id))
            .order_by_desc(history::Column::StartedAt)
            .order_by_desc(history::Column::Id);
        let (rows, has_more) = fetch_page(select, offset, limit, |q| q.all(&self.db)).await?;
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
            return Ok(new.into_record());
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
        Ok(new.into_record())
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
        let select = select
            .order_by_asc(provider::Column::Upstream)
            .order_by_asc(provider::Column::Namespace)
            .order_by_asc(provider::Column::ProviderType);
        let (rows, has_more) =
            fetch_page(select, query.offset, query.limit, |q| q.all(&self.db)).await?;
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
