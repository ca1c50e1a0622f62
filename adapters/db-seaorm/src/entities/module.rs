use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "modules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub namespace_id: Uuid,
    /// Display case, as first published.
    pub name: String,
    /// Lower-case lookup key.
    pub name_key: String,
    pub system: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::namespace::Entity",
        from = "Column::NamespaceId",
        to = "super::namespace::Column::Id",
        on_delete = "Cascade"
    )]
    Namespace,
    #[sea_orm(has_many = "super::module_version::Entity")]
    ModuleVersion,
    #[sea_orm(has_many = "super::module_version_summary::Entity")]
    ModuleVersionSummary,
}

impl Related<super::namespace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Namespace.def()
    }
}

impl Related<super::module_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ModuleVersion.def()
    }
}

impl Related<super::module_version_summary::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ModuleVersionSummary.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
