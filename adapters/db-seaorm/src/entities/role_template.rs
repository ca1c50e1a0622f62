use sea_orm::entity::prelude::*;

/// A named set of scopes. `organization_id` is `None` for the system templates.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    /// A JSON array of scope strings, like `api_keys.scopes`.
    #[sea_orm(column_type = "JsonBinary")]
    pub scopes: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
