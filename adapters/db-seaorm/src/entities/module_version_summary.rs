//! `module_versions` without the README column: what the hot read paths (`find_module`,
//! `list`) select, so README text is never loaded there.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "module_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub module_id: Uuid,
    pub version: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub format: String,
    pub blob_key: String,
    pub size: i64,
    pub sha256: String,
    pub downloads: i64,
    pub published_at: DateTimeUtc,
    pub published_by: Option<Uuid>,
}

impl Model {
    /// The full row shape, with `readme: None`.
    pub fn without_readme(self) -> super::module_version::Model {
        super::module_version::Model {
            id: self.id,
            module_id: self.module_id,
            version: self.version,
            description: self.description,
            readme: None,
            format: self.format,
            blob_key: self.blob_key,
            size: self.size,
            sha256: self.sha256,
            downloads: self.downloads,
            published_at: self.published_at,
            published_by: self.published_by,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::module::Entity",
        from = "Column::ModuleId",
        to = "super::module::Column::Id"
    )]
    Module,
}

impl Related<super::module::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Module.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
