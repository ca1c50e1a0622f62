use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// Indexed, not unique: the first characters of the key, in clear.
    pub prefix: String,
    pub key_hash: String,
    /// A JSON array of scope strings such as `["modules:write"]`.
    #[sea_orm(column_type = "JsonBinary")]
    pub scopes: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// Owner: a user, an organization, or (both `None`) the system.
    pub user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
