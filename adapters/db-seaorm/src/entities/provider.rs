use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub namespace_id: Uuid,
    /// The provider type (`aws`), always lower-case.
    #[sea_orm(column_name = "type")]
    pub provider_type: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::namespace::Entity",
        from = "Column::NamespaceId",
        to = "super::namespace::Column::Id"
    )]
    Namespace,
    #[sea_orm(has_many = "super::provider_version::Entity")]
    ProviderVersion,
}

impl Related<super::namespace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Namespace.def()
    }
}

impl Related<super::provider_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderVersion.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
