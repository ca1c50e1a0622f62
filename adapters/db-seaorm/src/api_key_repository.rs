//! `ApiKeyRepository` on sea-orm. Keys are found by their clear prefix (indexed, not
//! unique); the caller checks the hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use tfr_ports::driven::{ApiKeyRecord, ApiKeyRepository, KeyOwner, RepoError};
use uuid::Uuid;

use crate::common::{begin_write, scopes_from_json, scopes_to_json};
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

/// The owner columns: `(user_id, organization_id)`, both `None` for a system key.
fn owner_columns(owner: KeyOwner) -> (Option<Uuid>, Option<Uuid>) {
    match owner {
        KeyOwner::System => (None, None),
        KeyOwner::User(id) => (Some(id), None),
        KeyOwner::Organization(id) => (None, Some(id)),
    }
}

fn owner(row: &api_key::Model) -> Result<KeyOwner, RepoError> {
    match (row.user_id, row.organization_id) {
        (None, None) => Ok(KeyOwner::System),
        (Some(user), None) => Ok(KeyOwner::User(user)),
        (None, Some(org)) => Ok(KeyOwner::Organization(org)),
        (Some(_), Some(_)) => Err(corrupt(
            "api_keys",
            format!("key {} has both a user and an organization owner", row.id),
        )),
    }
}

fn record(row: api_key::Model) -> Result<ApiKeyRecord, RepoError> {
    Ok(ApiKeyRecord {
        owner: owner(&row)?,
        scopes: scopes_from_json("api_keys", row.id, row.scopes)?,
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        key_hash: row.key_hash,
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
        let scopes = scopes_to_json("api_keys", &key.scopes)?;
        let (user_id, organization_id) = owner_columns(key.owner);
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
            user_id: Set(user_id),
            organization_id: Set(organization_id),
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

    async fn list(&self, owner: Option<KeyOwner>) -> Result<Vec<ApiKeyRecord>, RepoError> {
        let mut select = api_key::Entity::find();
        if let Some(owner) = owner {
            let (user_id, organization_id) = owner_columns(owner);
            select = select
                .filter(match user_id {
                    Some(id) => api_key::Column::UserId.eq(id),
                    None => api_key::Column::UserId.is_null(),
                })
                .filter(match organization_id {
                    Some(id) => api_key::Column::OrganizationId.eq(id),
                    None => api_key::Column::OrganizationId.is_null(),
                });
        }
        let rows = select
            .order_by_desc(api_key::Column::CreatedAt)
            .order_by_desc(api_key::Column::Id)
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

    async fn rotate(
        &self,
        id: Uuid,
        prefix: &str,
        key_hash: &str,
        _at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let updated = api_key::Entity::update_many()
            .col_expr(api_key::Column::Prefix, Expr::value(prefix))
            .col_expr(api_key::Column::KeyHash, Expr::value(key_hash))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        Ok(updated.rows_affected == 1)
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
