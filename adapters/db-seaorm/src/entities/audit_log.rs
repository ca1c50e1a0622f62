use sea_orm::entity::prelude::*;

/// One audited request; append-only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    pub principal: Option<String>,
    pub principal_name: Option<String>,
    pub organization_id: Option<Uuid>,
    pub action: String,
    #[sea_orm(column_type = "Text")]
    pub resource: String,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    pub status: i32,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
