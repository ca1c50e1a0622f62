//! `NamespaceRepository` on sea-orm: ownership and the public flag. Namespaces are also
//! created by publishes (`common::ensure_namespace`).

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use tfr_ports::driven::{NamespaceRecord, NamespaceRepository, RepoError};
use uuid::Uuid;

use crate::entities::namespace;
use crate::error::{db_err, db_err_conflict};

/// Namespaces, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmNamespaceRepository {
    db: DatabaseConnection,
}

impl SeaOrmNamespaceRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: namespace::Model) -> NamespaceRecord {
    NamespaceRecord {
        id: row.id,
        name: row.name,
        organization_id: row.organization_id,
        public: row.public,
        created_at: row.created_at,
    }
}

#[async_trait]
impl NamespaceRepository for SeaOrmNamespaceRepository {
    async fn find_by_name(&self, name: &str) -> Result<Option<NamespaceRecord>, RepoError> {
        Ok(namespace::Entity::find()
            .filter(namespace::Column::NameKey.eq(name.to_ascii_lowercase()))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record))
    }

    async fn list(&self, organization_id: Option<Uuid>) -> Result<Vec<NamespaceRecord>, RepoError> {
        let mut select = namespace::Entity::find();
        if let Some(org) = organization_id {
            select = select.filter(namespace::Column::OrganizationId.eq(org));
        }
        Ok(select
            .order_by_asc(namespace::Column::NameKey)
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(record)
            .collect())
    }

    async fn insert(&self, ns: &NamespaceRecord) -> Result<(), RepoError> {
        namespace::Entity::insert(namespace::ActiveModel {
            id: Set(ns.id),
            name: Set(ns.name.clone()),
            name_key: Set(ns.name.to_ascii_lowercase()),
            created_at: Set(ns.created_at),
            organization_id: Set(ns.organization_id),
            public: Set(ns.public),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| db_err_conflict(e, || format!("namespace {} already exists", ns.name)))?;
        Ok(())
    }

    async fn update(&self, ns: &NamespaceRecord) -> Result<bool, RepoError> {
        let updated = namespace::Entity::update_many()
            .col_expr(
                namespace::Column::OrganizationId,
                Expr::value(ns.organization_id),
            )
            .col_expr(namespace::Column::Public, Expr::value(ns.public))
            .filter(namespace::Column::Id.eq(ns.id))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(updated.rows_affected == 1)
    }
}
