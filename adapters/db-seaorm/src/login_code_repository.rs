//! `LoginCodeRepository` on sea-orm: single-use `terraform login` codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter,
};
use tfr_ports::driven::{LoginCodeRecord, LoginCodeRepository, RepoError};

use crate::common::begin_write;
use crate::entities::login_code;
use crate::error::{db_err, db_err_conflict};

/// Login codes, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmLoginCodeRepository {
    db: DatabaseConnection,
}

impl SeaOrmLoginCodeRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: login_code::Model) -> LoginCodeRecord {
    LoginCodeRecord {
        code_hash: row.code_hash,
        user_id: row.user_id,
        client_id: row.client_id,
        redirect_uri: row.redirect_uri,
        code_challenge: row.code_challenge,
        expires_at: row.expires_at,
    }
}

#[async_trait]
impl LoginCodeRepository for SeaOrmLoginCodeRepository {
    async fn insert(&self, code: &LoginCodeRecord) -> Result<(), RepoError> {
        login_code::Entity::insert(login_code::ActiveModel {
            code_hash: Set(code.code_hash.clone()),
            user_id: Set(code.user_id),
            client_id: Set(code.client_id.clone()),
            redirect_uri: Set(code.redirect_uri.clone()),
            code_challenge: Set(code.code_challenge.clone()),
            expires_at: Set(code.expires_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| db_err_conflict(e, || "login code already exists".to_string()))?;
        Ok(())
    }

    /// PostgreSQL: one `DELETE ... RETURNING`, so of two racing replicas exactly one gets
    /// the row. SQLite: select and delete in one `BEGIN IMMEDIATE` transaction (writers are
    /// serialised), which also works on SQLite builds older than 3.35.
    async fn take(&self, code_hash: &str) -> Result<Option<LoginCodeRecord>, RepoError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            let delete = Query::delete()
                .from_table(login_code::Entity)
                .and_where(login_code::Column::CodeHash.eq(code_hash))
                .returning_all()
                .to_owned();
            let row = login_code::Model::find_by_statement(DbBackend::Postgres.build(&delete))
                .one(&self.db)
                .await
                .map_err(db_err)?;
            return Ok(row.map(record));
        }
        let txn = begin_write(&self.db).await?;
        let Some(row) = login_code::Entity::find_by_id(code_hash.to_string())
            .one(&txn)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        login_code::Entity::delete_by_id(code_hash.to_string())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(Some(record(row)))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let deleted = login_code::Entity::delete_many()
            .filter(login_code::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected)
    }
}
