//! `ModuleRepository` on sea-orm. Lookups go through the lower-case `*_key` columns, so
//! addresses match case-insensitively while rows keep their display case.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SelectThree, TopologyStar,
};
use tfr_core::{ArchiveFormat, BlobKey, ModuleAddress, ModuleVersion};
use tfr_ports::driven::{
    ModuleListQuery, ModulePage, ModuleRecord, ModuleRepository, ModuleVersionRecord,
    ModuleWithVersions, NewModuleVersion, RepoError,
};
use uuid::Uuid;

use crate::common::{
    begin_write, contains_pattern, ensure_namespace, fetch_page, lower_like, search_term,
    visible_in,
};
use crate::entities::{module, module_version, module_version_summary as summary, namespace};
use crate::error::{corrupt, db_err, db_err_conflict, to_i64, to_u64};

/// Modules and their versions, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmModuleRepository {
    db: DatabaseConnection,
}

impl SeaOrmModuleRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn parse_format(value: &str) -> Result<ArchiveFormat, RepoError> {
    match value {
        "tar.gz" => Ok(ArchiveFormat::TarGz),
        "zip" => Ok(ArchiveFormat::Zip),
        other => Err(corrupt(
            "module_versions",
            format!("unknown archive format {other:?}"),
        )),
    }
}

fn module_record(module: module::Model, ns: &namespace::Model) -> ModuleRecord {
    ModuleRecord {
        id: module.id,
        namespace: ns.name.clone(),
        name: module.name,
        system: module.system,
        created_at: module.created_at,
    }
}

fn version_record(row: module_version::Model) -> Result<ModuleVersionRecord, RepoError> {
    Ok(ModuleVersionRecord {
        id: row.id,
        module_id: row.module_id,
        format: parse_format(&row.format)?,
        blob_key: BlobKey::parse(&row.blob_key)
            .map_err(|e| corrupt("module_versions", e.to_string()))?,
        size: to_u64("module_versions", row.size)?,
        downloads: to_u64("module_versions", row.downloads)?,
        version: row.version,
        description: row.description,
        readme: row.readme,
        sha256: row.sha256,
        published_at: row.published_at,
        published_by: row.published_by,
    })
}

/// Filters a query joined with `namespaces` down to one module address.
fn by_address<Q: QueryFilter>(query: Q, address: &ModuleAddress) -> Q {
    query
        .filter(namespace::Column::NameKey.eq(address.namespace.key()))
        .filter(module::Column::NameKey.eq(address.name.key()))
        .filter(module::Column::System.eq(address.system.as_str()))
}

/// The hot path in one query: module ⨝ namespace ⟕ versions (without README text).
fn find_module_query(
    address: &ModuleAddress,
) -> SelectThree<module::Entity, namespace::Entity, summary::Entity, TopologyStar> {
    by_address(
        module::Entity::find()
            .find_also_related(namespace::Entity)
            .find_also_related(summary::Entity),
        address,
    )
    .order_by_asc(summary::Column::Id)
}

/// The module row for `new`, created when missing, with `updated_at` moved forward.
async fn ensure_module(
    txn: &sea_orm::DatabaseTransaction,
    ns: &namespace::Model,
    new: &NewModuleVersion,
) -> Result<module::Model, RepoError> {
    let name_key = new.address.name.key();
    let system = new.address.system.as_str();
    // A concurrent delete of the module's last version can remove the row between our
    // insert and our update (PostgreSQL: the update waits for that delete, then finds
    // nothing). Then the row is created again.
    for _ in 0..3 {
        module::Entity::insert(module::ActiveModel {
            id: Set(Uuid::now_v7()),
            namespace_id: Set(ns.id),
            name: Set(new.address.name.as_str().to_string()),
            name_key: Set(name_key.clone()),
            system: Set(system.to_string()),
            created_at: Set(new.published_at),
            updated_at: Set(new.published_at),
        })
        .on_conflict_do_nothing_on([
            module::Column::NamespaceId,
            module::Column::NameKey,
            module::Column::System,
        ])
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
        let Some(row) = module::Entity::find()
            .filter(module::Column::NamespaceId.eq(ns.id))
            .filter(module::Column::NameKey.eq(name_key.as_str()))
            .filter(module::Column::System.eq(system))
            .one(txn)
            .await
            .map_err(db_err)?
        else {
            continue;
        };
        // Also takes the row lock a concurrent delete_version waits for.
        let touched = module::Entity::update_many()
            .col_expr(module::Column::UpdatedAt, Expr::value(new.published_at))
            .filter(module::Column::Id.eq(row.id))
            .exec(txn)
            .await
            .map_err(db_err)?;
        if touched.rows_affected == 1 {
            return Ok(row);
        }
    }
    Err(RepoError::Unavailable(format!(
        "module {} kept being deleted while publishing; retry",
        new.address
    )))
}

#[async_trait]
impl ModuleRepository for SeaOrmModuleRepository {
    async fn insert_version(
        &self,
        new: NewModuleVersion,
    ) -> Result<ModuleVersionRecord, RepoError> {
        let txn = begin_write(&self.db).await?;
        let ns = ensure_namespace(
            &txn,
            &new.address.namespace,
            new.namespace_organization,
            new.published_at,
        )
        .await?;
        let module = ensure_module(&txn, &ns, &new).await?;
        let row = module_version::Model {
            id: new.id,
            module_id: module.id,
            version: new.version.to_string(),
            description: new.description,
            readme: new.readme,
            format: new.format.extension().to_string(),
            blob_key: new.blob_key.as_str().to_string(),
            size: to_i64("module_versions", new.size)?,
            sha256: new.sha256,
            downloads: 0,
            published_at: new.published_at,
            published_by: new.published_by,
        };
        module_version::Entity::insert(module_version::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await
            .map_err(|e| {
                db_err_conflict(e, || {
                    format!(
                        "module {} version {} already exists",
                        new.address, new.version
                    )
                })
            })?;
        txn.commit().await.map_err(db_err)?;
        version_record(row)
    }

    async fn find_module(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<ModuleWithVersions>, RepoError> {
        let rows = find_module_query(address)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let mut rows = rows.into_iter();
        let Some((module, ns, first)) = rows.next() else {
            return Ok(None);
        };
        let ns = ns.ok_or_else(|| corrupt("modules", "module without namespace"))?;
        let versions = first
            .into_iter()
            .chain(rows.filter_map(|(_, _, version)| version))
            .map(|v| version_record(v.without_readme()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(ModuleWithVersions {
            module: module_record(module, &ns),
            versions,
        }))
    }

    async fn find_version(
        &self,
        address: &ModuleAddress,
        version: &ModuleVersion,
    ) -> Result<Option<(ModuleRecord, ModuleVersionRecord)>, RepoError> {
        let row = by_address(
            module::Entity::find()
                .find_also_related(namespace::Entity)
                .find_also_related(module_version::Entity),
            address,
        )
        .filter(module_version::Column::Version.eq(version.to_string()))
        .one(&self.db)
        .await
        .map_err(db_err)?;
        match row {
            Some((module, Some(ns), Some(version))) => {
                Ok(Some((module_record(module, &ns), version_record(version)?)))
            }
            _ => Ok(None),
        }
    }

    async fn delete_version(&self, version_id: Uuid) -> Result<bool, RepoError> {
        let txn = begin_write(&self.db).await?;
        let Some(version) = module_version::Entity::find_by_id(version_id)
            .one(&txn)
            .await
            .map_err(db_err)?
        else {
            return Ok(false);
        };
        // Lock the module row before counting what remains, so a publish into the same
        // module (which updates this row) is either seen by the count or waits for us
        // (PostgreSQL; SQLite write transactions are serialised anyway).
        module::Entity::find_by_id(version.module_id)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(db_err)?;
        module_version::Entity::delete_by_id(version_id)
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let remaining = module_version::Entity::find()
            .filter(module_version::Column::ModuleId.eq(version.module_id))
            .count(&txn)
            .await
            .map_err(db_err)?;
        if remaining == 0 {
            module::Entity::delete_by_id(version.module_id)
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn list(&self, query: &ModuleListQuery) -> Result<ModulePage, RepoError> {
        let mut select = module::Entity::find().find_also_related(namespace::Entity);
        if let Some(ns) = &query.namespace {
            select = select.filter(namespace::Column::NameKey.eq(ns.to_ascii_lowercase()));
        }
        if let Some(name) = &query.name {
            select = select.filter(module::Column::NameKey.eq(name.to_ascii_lowercase()));
        }
        if let Some(organizations) = &query.organizations {
            select = select.filter(visible_in(organizations));
        }
        if let Some(system) = &query.system {
            select = select.filter(module::Column::System.eq(system.as_str()));
        }
        if let Some(term) = search_term(&query.search) {
            let in_description = Query::select()
                .expr(Expr::val(1))
                .from(module_version::Entity)
                .and_where(
                    Expr::col((module_version::Entity, module_version::Column::ModuleId))
                        .equals((module::Entity, module::Column::Id)),
                )
                .and_where(lower_like(
                    Expr::col((module_version::Entity, module_version::Column::Description)),
                    term,
                ))
                .to_owned();
            select = select.filter(
                Condition::any()
                    .add(namespace::Column::NameKey.like(contains_pattern(term)))
                    .add(module::Column::NameKey.like(contains_pattern(term)))
                    .add(Expr::exists(in_description)),
            );
        }
        let select = select
            .order_by_asc(namespace::Column::NameKey)
            .order_by_asc(module::Column::NameKey)
            .order_by_asc(module::Column::System);
        let (rows, has_more) =
            fetch_page(select, query.offset, query.limit, |q| q.all(&self.db)).await?;
        if rows.is_empty() {
            return Ok(ModulePage {
                items: vec![],
                has_more,
            });
        }

        // One more query for every version on the page.
        let ids: Vec<Uuid> = rows.iter().map(|(m, _)| m.id).collect();
        let mut versions: HashMap<Uuid, Vec<ModuleVersionRecord>> = HashMap::new();
        for row in summary::Entity::find()
            .filter(summary::Column::ModuleId.is_in(ids))
            .order_by_asc(summary::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?
        {
            let record = version_record(row.without_readme())?;
            versions.entry(record.module_id).or_default().push(record);
        }
        let items = rows
            .into_iter()
            .map(|(module, ns)| {
                let ns = ns.ok_or_else(|| corrupt("modules", "module without namespace"))?;
                let versions = versions.remove(&module.id).unwrap_or_default();
                Ok(ModuleWithVersions {
                    module: module_record(module, &ns),
                    versions,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(ModulePage { items, has_more })
    }

    async fn record_downloads(&self, version_id: Uuid, count: u64) -> Result<(), RepoError> {
        module_version::Entity::update_many()
            .col_expr(
                module_version::Column::Downloads,
                Expr::col(module_version::Column::Downloads).add(count as i64),
            )
            .filter(module_version::Column::Id.eq(version_id))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    #[test]
    fn find_module_is_one_join_without_readme() {
        let address = ModuleAddress::parse("HashiCorp", "Consul", "aws").expect("address");
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let sql = find_module_query(&address).build(backend).to_string();
            assert!(sql.contains("JOIN \"namespaces\""), "{sql}");
            assert!(sql.contains("LEFT JOIN \"module_versions\""), "{sql}");
            assert!(
                !sql.contains("readme"),
                "README must not be selected: {sql}"
            );
            assert!(
                sql.contains("'hashicorp'") && sql.contains("'consul'"),
                "lookup by key: {sql}"
            );
        }
    }
}
