//! `RevokedSessionRepository` on sea-orm: the denylist of logged-out session tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tfr_ports::driven::{RepoError, RevokedSessionRepository};

use crate::entities::revoked_session;
use crate::error::db_err;

/// Revoked session ids, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmRevokedSessionRepository {
    db: DatabaseConnection,
}

impl SeaOrmRevokedSessionRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RevokedSessionRepository for SeaOrmRevokedSessionRepository {
    /// Revoking again keeps the first entry.
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), RepoError> {
        revoked_session::Entity::insert(revoked_session::ActiveModel {
            jti: Set(jti.to_string()),
            expires_at: Set(expires_at),
        })
        .on_conflict(
            OnConflict::column(revoked_session::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list_unexpired(&self, now: DateTime<Utc>) -> Result<Vec<String>, RepoError> {
        revoked_session::Entity::find()
            .select_only()
            .column(revoked_session::Column::Jti)
            .filter(revoked_session::Column::ExpiresAt.gt(now))
            .order_by_asc(revoked_session::Column::Jti)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_err)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let deleted = revoked_session::Entity::delete_many()
            .filter(revoked_session::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected)
    }
}
