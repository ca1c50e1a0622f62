use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mirrored_provider_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider_id: Uuid,
    pub version: String,
    /// A JSON array of protocol strings such as `["5.0"]`.
    #[sea_orm(column_type = "JsonBinary")]
    pub protocols: Json,
    #[sea_orm(column_type = "Text")]
    pub shasums: String,
    pub key_fingerprint: String,
    pub verified_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
