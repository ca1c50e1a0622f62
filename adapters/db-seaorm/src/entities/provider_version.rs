use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider_id: Uuid,
    pub version: String,
    /// A JSON array of protocol strings such as `["5.0"]`.
    #[sea_orm(column_type = "JsonBinary")]
    pub protocols: Json,
    pub shasums_key: String,
    pub shasums_signature_key: String,
    pub signing_key_id: Uuid,
    pub published_at: DateTimeUtc,
    pub published_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::provider::Entity",
        from = "Column::ProviderId",
        to = "super::provider::Column::Id",
        on_delete = "Cascade"
    )]
    Provider,
    #[sea_orm(
        belongs_to = "super::signing_key::Entity",
        from = "Column::SigningKeyId",
        to = "super::signing_key::Column::Id"
    )]
    SigningKey,
    #[sea_orm(has_many = "super::provider_platform::Entity")]
    ProviderPlatform,
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

impl Related<super::provider_platform::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderPlatform.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
