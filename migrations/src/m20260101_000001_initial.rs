//! The initial schema: namespaces, modules, providers, signing keys and API keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Namespaces {
    Table,
    Id,
    Name,
    NameKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Modules {
    Table,
    Id,
    NamespaceId,
    Name,
    NameKey,
    System,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModuleVersions {
    Table,
    Id,
    ModuleId,
    Version,
    Description,
    Readme,
    Format,
    BlobKey,
    Size,
    Sha256,
    Downloads,
    PublishedAt,
    PublishedBy,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    NamespaceId,
    KeyId,
    Fingerprint,
    AsciiArmor,
    Source,
    SourceUrl,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    NamespaceId,
    Type,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProviderVersions {
    Table,
    Id,
    ProviderId,
    Version,
    Protocols,
    ShasumsKey,
    ShasumsSignatureKey,
    SigningKeyId,
    PublishedAt,
    PublishedBy,
}

#[derive(DeriveIden)]
enum ProviderPlatforms {
    Table,
    Id,
    ProviderVersionId,
    Os,
    Arch,
    Filename,
    Sha256,
    Size,
    H1,
    BlobKey,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

/// A foreign key from `from` to `to.id`, named after the child table and column.
fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .to_owned()
}

fn index(
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Namespaces::Table)
            .col(pk_uuid(Namespaces::Id))
            .col(string(Namespaces::Name))
            .col(string(Namespaces::NameKey))
            .col(timestamp_with_time_zone(Namespaces::CreatedAt))
            .to_owned(),
        Table::create()
            .table(Modules::Table)
            .col(pk_uuid(Modules::Id))
            .col(uuid(Modules::NamespaceId))
            .col(string(Modules::Name))
            .col(string(Modules::NameKey))
            .col(string(Modules::System))
            .col(timestamp_with_time_zone(Modules::CreatedAt))
            .col(timestamp_with_time_zone(Modules::UpdatedAt))
            .foreign_key(&mut fk(
                "fk_modules_namespace",
                (Modules::Table, Modules::NamespaceId),
                (Namespaces::Table, Namespaces::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(ModuleVersions::Table)
            .col(pk_uuid(ModuleVersions::Id))
            .col(uuid(ModuleVersions::ModuleId))
            .col(string(ModuleVersions::Version))
            .col(text_null(ModuleVersions::Description))
            .col(text_null(ModuleVersions::Readme))
            .col(string(ModuleVersions::Format))
            .col(string(ModuleVersions::BlobKey))
            .col(big_integer(ModuleVersions::Size))
            .col(string(ModuleVersions::Sha256))
            .col(big_integer(ModuleVersions::Downloads).default(0))
            .col(timestamp_with_time_zone(ModuleVersions::PublishedAt))
            .col(uuid_null(ModuleVersions::PublishedBy))
            .foreign_key(&mut fk(
                "fk_module_versions_module",
                (ModuleVersions::Table, ModuleVersions::ModuleId),
                (Modules::Table, Modules::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(SigningKeys::Table)
            .col(pk_uuid(SigningKeys::Id))
            .col(uuid(SigningKeys::NamespaceId))
            .col(string(SigningKeys::KeyId))
            .col(string(SigningKeys::Fingerprint))
            .col(text(SigningKeys::AsciiArmor))
            .col(string_null(SigningKeys::Source))
            .col(string_null(SigningKeys::SourceUrl))
            .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
            .foreign_key(&mut fk(
                "fk_signing_keys_namespace",
                (SigningKeys::Table, SigningKeys::NamespaceId),
                (Namespaces::Table, Namespaces::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(Providers::Table)
            .col(pk_uuid(Providers::Id))
            .col(uuid(Providers::NamespaceId))
            .col(string(Providers::Type))
            .col(timestamp_with_time_zone(Providers::CreatedAt))
            .foreign_key(&mut fk(
                "fk_providers_namespace",
                (Providers::Table, Providers::NamespaceId),
                (Namespaces::Table, Namespaces::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(ProviderVersions::Table)
            .col(pk_uuid(ProviderVersions::Id))
            .col(uuid(ProviderVersions::ProviderId))
            .col(string(ProviderVersions::Version))
            .col(json_binary(ProviderVersions::Protocols))
            .col(string(ProviderVersions::ShasumsKey))
            .col(string(ProviderVersions::ShasumsSignatureKey))
            .col(uuid(ProviderVersions::SigningKeyId))
            .col(timestamp_with_time_zone(ProviderVersions::PublishedAt))
            .col(uuid_null(ProviderVersions::PublishedBy))
            .foreign_key(&mut fk(
                "fk_provider_versions_provider",
                (ProviderVersions::Table, ProviderVersions::ProviderId),
                (Providers::Table, Providers::Id),
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_provider_versions_signing_key",
                (ProviderVersions::Table, ProviderVersions::SigningKeyId),
                (SigningKeys::Table, SigningKeys::Id),
                ForeignKeyAction::Restrict,
            ))
            .to_owned(),
        Table::create()
            .table(ProviderPlatforms::Table)
            .col(pk_uuid(ProviderPlatforms::Id))
            .col(uuid(ProviderPlatforms::ProviderVersionId))
            .col(string(ProviderPlatforms::Os))
            .col(string(ProviderPlatforms::Arch))
            .col(string(ProviderPlatforms::Filename))
            .col(string(ProviderPlatforms::Sha256))
            .col(big_integer(ProviderPlatforms::Size))
            .col(string(ProviderPlatforms::H1))
            .col(string(ProviderPlatforms::BlobKey))
            .foreign_key(&mut fk(
                "fk_provider_platforms_version",
                (
                    ProviderPlatforms::Table,
                    ProviderPlatforms::ProviderVersionId,
                ),
                (ProviderVersions::Table, ProviderVersions::Id),
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(ApiKeys::Table)
            .col(pk_uuid(ApiKeys::Id))
            .col(string(ApiKeys::Name))
            .col(string(ApiKeys::Prefix))
            .col(string(ApiKeys::KeyHash))
            .col(json_binary(ApiKeys::Scopes))
            .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
            .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
            .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
            .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index(
            "ux_namespaces_name_key",
            Namespaces::Table,
            vec![Namespaces::NameKey.into_iden()],
            true,
        ),
        index(
            "ux_modules_namespace_name_system",
            Modules::Table,
            vec![
                Modules::NamespaceId.into_iden(),
                Modules::NameKey.into_iden(),
                Modules::System.into_iden(),
            ],
            true,
        ),
        index(
            "ux_module_versions_module_version",
            ModuleVersions::Table,
            vec![
                ModuleVersions::ModuleId.into_iden(),
                ModuleVersions::Version.into_iden(),
            ],
            true,
        ),
        index(
            "ux_signing_keys_namespace_fingerprint",
            SigningKeys::Table,
            vec![
                SigningKeys::NamespaceId.into_iden(),
                SigningKeys::Fingerprint.into_iden(),
            ],
            true,
        ),
        index(
            "ux_providers_namespace_type",
            Providers::Table,
            vec![
                Providers::NamespaceId.into_iden(),
                Providers::Type.into_iden(),
            ],
            true,
        ),
        index(
            "ux_provider_versions_provider_version",
            ProviderVersions::Table,
            vec![
                ProviderVersions::ProviderId.into_iden(),
                ProviderVersions::Version.into_iden(),
            ],
            true,
        ),
        index(
            "ix_provider_versions_signing_key",
            ProviderVersions::Table,
            vec![ProviderVersions::SigningKeyId.into_iden()],
            false,
        ),
        index(
            "ux_provider_platforms_version_os_arch",
            ProviderPlatforms::Table,
            vec![
                ProviderPlatforms::ProviderVersionId.into_iden(),
                ProviderPlatforms::Os.into_iden(),
                ProviderPlatforms::Arch.into_iden(),
            ],
            true,
        ),
        index(
            "ix_api_keys_prefix",
            ApiKeys::Table,
            vec![ApiKeys::Prefix.into_iden()],
            false,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drops: [DynIden; 8] = [
            ApiKeys::Table.into_iden(),
            ProviderPlatforms::Table.into_iden(),
            ProviderVersions::Table.into_iden(),
            Providers::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            ModuleVersions::Table.into_iden(),
            Modules::Table.into_iden(),
            Namespaces::Table.into_iden(),
        ];
        for table in drops {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    /// SQLite supports transactional DDL; never leave a half-applied migration.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
