//! `RoleTemplateRepository` on sea-orm. Scopes are a JSON array, as on API keys.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use tfr_ports::driven::{RepoError, RoleTemplateRecord, RoleTemplateRepository};
use uuid::Uuid;

use crate::common::{begin_write, scopes_from_json, scopes_to_json};
use crate::entities::{organization_member, role_template, user};
use crate::error::{db_err, db_err_conflict, db_err_in_use};

const TABLE: &str = "role_templates";

/// Role templates, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmRoleTemplateRepository {
    db: DatabaseConnection,
}

impl SeaOrmRoleTemplateRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

pub(crate) fn record(row: role_template::Model) -> Result<RoleTemplateRecord, RepoError> {
    Ok(RoleTemplateRecord {
        scopes: scopes_from_json(TABLE, row.id, row.scopes)?,
        id: row.id,
        organization_id: row.organization_id,
        name: row.name,
        description: row.description,
        created_at: row.created_at,
    })
}

#[async_trait]
impl RoleTemplateRepository for SeaOrmRoleTemplateRepository {
    async fn insert(&self, template: &RoleTemplateRecord) -> Result<(), RepoError> {
        role_template::Entity::insert(role_template::ActiveModel {
            id: Set(template.id),
            organization_id: Set(template.organization_id),
            name: Set(template.name.clone()),
            description: Set(template.description.clone()),
            scopes: Set(scopes_to_json(TABLE, &template.scopes)?),
            created_at: Set(template.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| {
            db_err_conflict(e, || {
                format!("role template {} already exists", template.name)
            })
        })?;
        Ok(())
    }

    async fn find(&self, id: Uuid) -> Result<Option<RoleTemplateRecord>, RepoError> {
        role_template::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record)
            .transpose()
    }

    async fn list(
        &self,
        organization_id: Option<Uuid>,
    ) -> Result<Vec<RoleTemplateRecord>, RepoError> {
        let mut which = Condition::any().add(role_template::Column::OrganizationId.is_null());
        if let Some(org) = organization_id {
            which = which.add(role_template::Column::OrganizationId.eq(org));
        }
        role_template::Entity::find()
            .filter(which)
            .order_by_asc(role_template::Column::Name)
            .order_by_asc(role_template::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(record)
            .collect()
    }

    async fn update(&self, template: &RoleTemplateRecord) -> Result<bool, RepoError> {
        let updated = role_template::Entity::update_many()
            .col_expr(
                role_template::Column::Name,
                Expr::value(template.name.clone()),
            )
            .col_expr(
                role_template::Column::Description,
                Expr::value(template.description.clone()),
            )
            .col_expr(
                role_template::Column::Scopes,
                Expr::value(scopes_to_json(TABLE, &template.scopes)?),
            )
            .filter(role_template::Column::Id.eq(template.id))
            .exec(&self.db)
            .await
            .map_err(|e| {
                db_err_conflict(e, || {
                    format!("role template {} already exists", template.name)
                })
            })?;
        Ok(updated.rows_affected == 1)
    }

    async fn delete(&self, id: Uuid) -> Result<bool, RepoError> {
        let txn = begin_write(&self.db).await?;
        if role_template::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(db_err)?
            .is_none()
        {
            return Ok(false);
        }
        let members = organization_member::Entity::find()
            .filter(organization_member::Column::RoleTemplateId.eq(id))
            .count(&txn)
            .await
            .map_err(db_err)?;
        let users = user::Entity::find()
            .filter(user::Column::GlobalRoleId.eq(id))
            .count(&txn)
            .await
            .map_err(db_err)?;
        if members > 0 || users > 0 {
            return Err(RepoError::Conflict(format!(
                "role template {id} is held by {members} member(s) and {users} user(s)"
            )));
        }
        // The foreign keys also refuse a holder added concurrently (PostgreSQL).
        role_template::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(|e| db_err_in_use(e, || format!("role template {id} is still held")))?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
