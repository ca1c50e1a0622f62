//! `OrganizationRepository` on sea-orm.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use tfr_ports::driven::{OrganizationRecord, OrganizationRepository, RepoError};
use uuid::Uuid;

use crate::common::begin_write;
use crate::entities::{api_key, namespace, organization, organization_member, role_template};
use crate::error::{db_err, db_err_conflict, db_err_in_use};

/// Organizations, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmOrganizationRepository {
    db: DatabaseConnection,
}

impl SeaOrmOrganizationRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: organization::Model) -> OrganizationRecord {
    OrganizationRecord {
        id: row.id,
        name: row.name,
        display_name: row.display_name,
        created_at: row.created_at,
    }
}

#[async_trait]
impl OrganizationRepository for SeaOrmOrganizationRepository {
    async fn insert(&self, org: &OrganizationRecord) -> Result<(), RepoError> {
        organization::Entity::insert(organization::ActiveModel {
            id: Set(org.id),
            name: Set(org.name.clone()),
            display_name: Set(org.display_name.clone()),
            created_at: Set(org.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| db_err_conflict(e, || format!("organization {} already exists", org.name)))?;
        Ok(())
    }

    async fn find(&self, id: Uuid) -> Result<Option<OrganizationRecord>, RepoError> {
        Ok(organization::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record))
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<OrganizationRecord>, RepoError> {
        Ok(organization::Entity::find()
            .filter(organization::Column::Name.eq(name))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record))
    }

    async fn list(&self) -> Result<Vec<OrganizationRecord>, RepoError> {
        Ok(organization::Entity::find()
            .order_by_asc(organization::Column::Name)
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(record)
            .collect())
    }

    async fn update(&self, org: &OrganizationRecord) -> Result<bool, RepoError> {
        let updated = organization::Entity::update_many()
            .col_expr(
                organization::Column::DisplayName,
                Expr::value(org.display_name.clone()),
            )
            .filter(organization::Column::Id.eq(org.id))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(updated.rows_affected == 1)
    }

    /// Checks ownership and deletes in one write transaction (serialised on SQLite, where
    /// `namespaces` and `api_keys` carry no foreign key to organizations; PostgreSQL's
    /// foreign keys also refuse a namespace or key added concurrently). Live keys block
    /// the delete; revoked ones are deleted with the organization.
    async fn delete(&self, id: Uuid) -> Result<bool, RepoError> {
        let txn = begin_write(&self.db).await?;
        if organization::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(db_err)?
            .is_none()
        {
            return Ok(false);
        }
        let namespaces = namespace::Entity::find()
            .filter(namespace::Column::OrganizationId.eq(id))
            .count(&txn)
            .await
            .map_err(db_err)?;
        let keys = api_key::Entity::find()
            .filter(api_key::Column::OrganizationId.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .count(&txn)
            .await
            .map_err(db_err)?;
        if namespaces > 0 || keys > 0 {
            return Err(RepoError::Conflict(format!(
                "organization {id} still owns {namespaces} namespace(s) and {keys} live API key(s)"
            )));
        }
        // Revoked keys cannot be deleted through the API; they go with their organization.
        api_key::Entity::delete_many()
            .filter(api_key::Column::OrganizationId.eq(id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        // Members first: they may hold the organization's own templates.
        organization_member::Entity::delete_many()
            .filter(organization_member::Column::OrganizationId.eq(id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        role_template::Entity::delete_many()
            .filter(role_template::Column::OrganizationId.eq(id))
            .exec(&txn)
            .await
            .map_err(|e| {
                db_err_in_use(e, || {
                    format!("a role template of organization {id} is still held elsewhere")
                })
            })?;
        organization::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(|e| {
                db_err_in_use(e, || {
                    format!("organization {id} still owns namespaces or API keys")
                })
            })?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
