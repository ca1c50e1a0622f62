use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_platforms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider_version_id: Uuid,
    pub os: String,
    pub arch: String,
    pub filename: String,
    pub sha256: String,
    pub size: i64,
    pub h1: String,
    pub blob_key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::provider_version::Entity",
        from = "Column::ProviderVersionId",
        to = "super::provider_version::Column::Id",
        on_delete = "Cascade"
    )]
    ProviderVersion,
}

impl Related<super::provider_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderVersion.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
