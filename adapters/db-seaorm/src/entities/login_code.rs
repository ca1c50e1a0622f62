use sea_orm::entity::prelude::*;

/// A pending `terraform login` authorization code, by the SHA-256 of the code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    pub user_id: Uuid,
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
