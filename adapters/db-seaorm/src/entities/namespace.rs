use sea_orm::entity::prelude::*;

/// A namespace shared by modules and providers. `name` keeps the case it was first
/// published with; `name_key` is its lower-case lookup key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "namespaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub name_key: String,
    pub created_at: DateTimeUtc,
    /// The owning organization (no foreign key on SQLite; see the identity migration).
    pub organization_id: Uuid,
    /// Readable without a credential.
    pub public: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::module::Entity")]
    Module,
    #[sea_orm(has_many = "super::provider::Entity")]
    Provider,
    #[sea_orm(has_many = "super::signing_key::Entity")]
    SigningKey,
}

impl Related<super::module::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Module.def()
    }
}

impl Related<super::provider::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl Related<super::signing_key::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SigningKey.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
