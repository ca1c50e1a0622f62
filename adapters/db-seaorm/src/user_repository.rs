//! `UserRepository` on sea-orm.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use tfr_ports::driven::{RepoError, UserQuery, UserRecord, UserRepository};
use uuid::Uuid;

use crate::common::{lower_like, search_term};
use crate::entities::user;
use crate::error::{db_err, db_err_conflict};

/// Users signed in through SSO, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmUserRepository {
    db: DatabaseConnection,
}

impl SeaOrmUserRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: user::Model) -> UserRecord {
    UserRecord {
        id: row.id,
        username: row.username,
        email: row.email,
        display_name: row.display_name,
        identity_provider: row.identity_provider,
        subject: row.subject,
        global_role_id: row.global_role_id,
        created_at: row.created_at,
        last_login_at: row.last_login_at,
        disabled_at: row.disabled_at,
    }
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn insert(&self, u: &UserRecord) -> Result<(), RepoError> {
        user::Entity::insert(user::ActiveModel {
            id: Set(u.id),
            username: Set(u.username.clone()),
            email: Set(u.email.clone()),
            display_name: Set(u.display_name.clone()),
            identity_provider: Set(u.identity_provider.clone()),
            subject: Set(u.subject.clone()),
            global_role_id: Set(u.global_role_id),
            created_at: Set(u.created_at),
            last_login_at: Set(u.last_login_at),
            disabled_at: Set(u.disabled_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| {
            db_err_conflict(e, || {
                format!(
                    "user {} ({}/{}) already exists",
                    u.username, u.identity_provider, u.subject
                )
            })
        })?;
        Ok(())
    }

    async fn find(&self, id: Uuid) -> Result<Option<UserRecord>, RepoError> {
        Ok(user::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record))
    }

    async fn find_by_subject(
        &self,
        identity_provider: &str,
        subject: &str,
    ) -> Result<Option<UserRecord>, RepoError> {
        Ok(user::Entity::find()
            .filter(user::Column::IdentityProvider.eq(identity_provider))
            .filter(user::Column::Subject.eq(subject))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record))
    }

    async fn list(&self, query: &UserQuery) -> Result<(Vec<UserRecord>, u64), RepoError> {
        let mut select = user::Entity::find();
        if let Some(term) = search_term(&query.search) {
            select = select.filter(
                Condition::any()
                    .add(lower_like(Expr::col(user::Column::Username), term))
                    .add(lower_like(Expr::col(user::Column::Email), term))
                    .add(lower_like(Expr::col(user::Column::DisplayName), term)),
            );
        }
        let total = select.clone().count(&self.db).await.map_err(db_err)?;
        let max = i64::MAX as u64;
        let rows = select
            .order_by_asc(user::Column::Username)
            .offset(Ord::min(query.offset, max))
            .limit(Ord::min(query.limit, max))
            .all(&self.db)
            .await
            .map_err(db_err)?;
        Ok((rows.into_iter().map(record).collect(), total))
    }

    async fn update(&self, u: &UserRecord) -> Result<bool, RepoError> {
        let updated = user::Entity::update_many()
            .col_expr(user::Column::Username, Expr::value(u.username.clone()))
            .col_expr(user::Column::Email, Expr::value(u.email.clone()))
            .col_expr(
                user::Column::DisplayName,
                Expr::value(u.display_name.clone()),
            )
            .col_expr(user::Column::GlobalRoleId, Expr::value(u.global_role_id))
            .col_expr(user::Column::LastLoginAt, Expr::value(u.last_login_at))
            .col_expr(user::Column::DisabledAt, Expr::value(u.disabled_at))
            .filter(user::Column::Id.eq(u.id))
            .exec(&self.db)
            .await
            .map_err(|e| db_err_conflict(e, || format!("username {} is taken", u.username)))?;
        Ok(updated.rows_affected == 1)
    }
}
