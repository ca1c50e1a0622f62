use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mirror_sync_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub config_id: Uuid,
    pub trigger: String,
    pub holder: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub status: String,
    pub versions_fetched: i64,
    pub packages_fetched: i64,
    pub bytes_fetched: i64,
    /// A JSON array of `{provider, version, platform, reason}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub failures: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
