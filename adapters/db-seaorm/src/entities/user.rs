use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Unique together with `subject`.
    pub identity_provider: String,
    pub subject: String,
    pub global_role_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    pub disabled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
