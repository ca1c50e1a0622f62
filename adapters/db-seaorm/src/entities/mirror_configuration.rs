use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mirror_configurations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub upstream: String,
    /// JSON arrays of strings: hosts, lower-case namespaces and types, `os_arch` platforms.
    #[sea_orm(column_type = "JsonBinary")]
    pub hostnames: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub namespaces: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub provider_types: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub version_constraint: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub platforms: Json,
    pub enabled: bool,
    pub sync_interval_secs: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_sync_at: Option<DateTimeUtc>,
    pub last_sync_status: Option<String>,
    /// The sync lease; never part of the port record.
    pub lease_holder: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
