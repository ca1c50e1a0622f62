//! `ApiKeyRepository` on sea-orm. Keys are found by their clear prefix (indexed, not
//! unique); the caller checks the hash.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use tfr_core::{Scope, ScopeSet};
use tfr_ports::driven::{ApiKeyRecord, ApiKeyRepository, RepoError};
use uuid::Uuid;

use crate::common::begin_write;
use crate::entities::api_key;
use crate::error::{corrupt, db_err, db_err_conflict};

/// API keys, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmApiKeyRepository {
    db: DatabaseConnection,
}

impl SeaOrmApiKeyRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: api_key::Model) -> Result<ApiKeyRecord, RepoError> {
    let names: Vec<String> =
        serde_json::from_value(row.scopes).map_err(|e| corrupt("api_keys", e.to_string()))?;
    // A scope this build no longer knows is dropped rather than locking the key out of
    // every listing; the key simply loses it.
    let scopes = ScopeSet::new(names.iter().filter_map(|name| match Scope::from_str(name) {
        Ok(scope) => Some(scope),
        Err(_) => {
            tracing::warn!(key_id = %row.id, scope = %name, "ignoring unknown scope stored on API key");
            None
        }
    }));
    Ok(ApiKeyRecord {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        key_hash: row.key_hash,
        scopes,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    })
}

fn records(rows: Vec<api_key::Model>) -> Result<Vec<ApiKeyRecord>, RepoError> {
    rows.into_iter().map(record).collect()
}

#[async_trait]
impl ApiKeyRepository for SeaOrmApiKeyRepository {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), RepoError> {
        let scopes = serde_json::to_value(key.scopes.to_strings())
            .map_err(|e| corrupt("api_keys", e.to_string()))?;
        api_key::Entity::insert(api_key::ActiveModel {
            id: Set(key.id),
            name: Set(key.name.clone()),
            prefix: Set(key.prefix.clone()),
            key_hash: Set(key.key_hash.clone()),
            scopes: Set(scopes),
            created_at: Set(key.created_at),
            expires_at: Set(key.expires_at),
            last_used_at: Set(key.last_used_at),
            revoked_at: Set(key.revoked_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| db_err_conflict(e, || format!("API key {} already exists", key.id)))?;
        Ok(())
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKeyRecord>, RepoError> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::Prefix.eq(prefix))
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        records(rows)
    }

    async fn find_by_id(&self, id: Uuid) -> Result<Option<ApiKeyRecord>, RepoError> {
        api_key::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(record)
            .transpose()
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, RepoError> {
        let rows = api_key::Entity::find()
            .order_by_asc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        records(rows)
    }

    /// The first revocation time is kept when the key is revoked again.
    async fn revoke(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, RepoError> {
        let txn = begin_write(&self.db).await?;
        let Some(row) = api_key::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(db_err)?
        else {
            return Ok(false);
        };
        if row.revoked_at.is_none() {
            api_key::Entity::update_many()
                .col_expr(api_key::Column::RevokedAt, Expr::value(at))
                .filter(api_key::Column::Id.eq(id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn touch_last_used(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), RepoError> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
            .filter(api_key::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
