//! `MembershipRepository` on sea-orm, with `grants_for_user`: the hot path of every
//! authenticated request, one query.

use async_trait::async_trait;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, JoinType, OnConflict, Order, Query, SelectStatement,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder,
};
use tfr_core::ScopeSet;
use tfr_ports::driven::{
    MembershipRecord, MembershipRepository, MembershipSource, RepoError, UserGrants,
};
use uuid::Uuid;

use crate::common::scopes_from_json;
use crate::entities::{organization_member as member, role_template, user};
use crate::error::{corrupt, db_err};

/// Organization memberships, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmMembershipRepository {
    db: DatabaseConnection,
}

impl SeaOrmMembershipRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: member::Model) -> Result<MembershipRecord, RepoError> {
    Ok(MembershipRecord {
        source: MembershipSource::parse(&row.source).ok_or_else(|| {
            corrupt(
                "organization_members",
                format!("unknown membership source {:?}", row.source),
            )
        })?,
        organization_id: row.organization_id,
        user_id: row.user_id,
        role_template_id: row.role_template_id,
        created_at: row.created_at,
    })
}

fn records(rows: Vec<member::Model>) -> Result<Vec<MembershipRecord>, RepoError> {
    rows.into_iter().map(record).collect()
}

/// One row per membership (or one row without a membership): the user's global
/// template scopes repeated, plus one organization and its template's scopes.
#[derive(Debug, FromQueryResult)]
struct GrantRow {
    global_scopes: Option<serde_json::Value>,
    organization_id: Option<Uuid>,
    organization_scopes: Option<serde_json::Value>,
}

/// users ⟕ global template ⟕ memberships ⟕ their templates, for one enabled user.
fn grants_query(user_id: Uuid) -> SelectStatement {
    let (u, g, m, t) = (
        Alias::new("u"),
        Alias::new("g"),
        Alias::new("m"),
        Alias::new("t"),
    );
    Query::select()
        .expr_as(
            Expr::col((g.clone(), role_template::Column::Scopes)),
            Alias::new("global_scopes"),
        )
        .expr_as(
            Expr::col((m.clone(), member::Column::OrganizationId)),
            Alias::new("organization_id"),
        )
        .expr_as(
            Expr::col((t.clone(), role_template::Column::Scopes)),
            Alias::new("organization_scopes"),
        )
        .from_as(user::Entity, u.clone())
        .join_as(
            JoinType::LeftJoin,
            role_template::Entity,
            g.clone(),
            Expr::col((g.clone(), role_template::Column::Id))
                .equals((u.clone(), user::Column::GlobalRoleId)),
        )
        .join_as(
            JoinType::LeftJoin,
            member::Entity,
            m.clone(),
            Expr::col((m.clone(), member::Column::UserId)).equals((u.clone(), user::Column::Id)),
        )
        .join_as(
            JoinType::LeftJoin,
            role_template::Entity,
            t.clone(),
            Expr::col((t.clone(), role_template::Column::Id))
                .equals((m.clone(), member::Column::RoleTemplateId)),
        )
        .and_where(Expr::col((u.clone(), user::Column::Id)).eq(user_id))
        .and_where(Expr::col((u, user::Column::DisabledAt)).is_null())
        .order_by((m, member::Column::OrganizationId), Order::Asc)
        .to_owned()
}

#[async_trait]
impl MembershipRepository for SeaOrmMembershipRepository {
    async fn upsert(&self, membership: &MembershipRecord) -> Result<(), RepoError> {
        member::Entity::insert(member::ActiveModel {
            organization_id: Set(membership.organization_id),
            user_id: Set(membership.user_id),
            role_template_id: Set(membership.role_template_id),
            source: Set(membership.source.as_str().to_string()),
            created_at: Set(membership.created_at),
        })
        .on_conflict(
            OnConflict::columns([member::Column::OrganizationId, member::Column::UserId])
                .update_columns([member::Column::RoleTemplateId, member::Column::Source])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn remove(&self, organization_id: Uuid, user_id: Uuid) -> Result<bool, RepoError> {
        let deleted = member::Entity::delete_many()
            .filter(member::Column::OrganizationId.eq(organization_id))
            .filter(member::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn list_for_organization(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<MembershipRecord>, RepoError> {
        records(
            member::Entity::find()
                .filter(member::Column::OrganizationId.eq(organization_id))
                .order_by_asc(member::Column::CreatedAt)
                .order_by_asc(member::Column::UserId)
                .all(&self.db)
                .await
                .map_err(db_err)?,
        )
    }

    async fn list_for_user(&self, user_id: Uuid) -> Result<Vec<MembershipRecord>, RepoError> {
        records(
            member::Entity::find()
                .filter(member::Column::UserId.eq(user_id))
                .order_by_asc(member::Column::CreatedAt)
                .order_by_asc(member::Column::OrganizationId)
                .all(&self.db)
                .await
                .map_err(db_err)?,
        )
    }

    async fn grants_for_user(&self, user_id: Uuid) -> Result<Option<UserGrants>, RepoError> {
        let statement = self.db.get_database_backend().build(&grants_query(user_id));
        let rows = GrantRow::find_by_statement(statement)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let global = match &first.global_scopes {
            Some(scopes) => scopes_from_json("role_templates", user_id, scopes.clone())?,
            None => ScopeSet::default(),
        };
        let mut organizations = Vec::with_capacity(rows.len());
        for row in rows {
            if let (Some(org), Some(scopes)) = (row.organization_id, row.organization_scopes) {
                organizations.push((org, scopes_from_json("role_templates", user_id, scopes)?));
            }
        }
        Ok(Some(UserGrants {
            global,
            organizations,
        }))
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    #[test]
    fn grants_are_one_query_over_users_members_and_templates() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let sql = backend.build(&grants_query(Uuid::nil())).to_string();
            assert_eq!(sql.matches("SELECT").count(), 1, "{sql}");
            assert_eq!(
                sql.matches("LEFT JOIN \"role_templates\"").count(),
                2,
                "{sql}"
            );
            assert!(sql.contains("LEFT JOIN \"organization_members\""), "{sql}");
            assert!(sql.contains("\"disabled_at\" IS NULL"), "{sql}");
        }
    }
}
