//! Provider network mirrors: configurations (with their sync lease), sync history, and
//! the content copied from upstream registries.
//!
//! Mirrored content has its own tables rather than sharing `providers`: a mirrored
//! `registry.terraform.io/hashicorp/aws` and a published `hashicorp/aws` are different
//! providers, and mirrored ones belong to no namespace or organization. Content is keyed
//! by upstream host, not by configuration, so deleting a configuration keeps it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MirrorConfigurations {
    Table,
    Id,
    Name,
    Upstream,
    Hostnames,
    Namespaces,
    ProviderTypes,
    VersionConstraint,
    Platforms,
    Enabled,
    SyncIntervalSecs,
    CreatedAt,
    UpdatedAt,
    LastSyncAt,
    LastSyncStatus,
    LeaseHolder,
    LeaseExpiresAt,
}

#[derive(DeriveIden)]
enum MirrorSyncHistory {
    Table,
    Id,
    ConfigId,
    Trigger,
    Holder,
    StartedAt,
    FinishedAt,
    Status,
    VersionsFetched,
    PackagesFetched,
    BytesFetched,
    Failures,
    Message,
}

#[derive(DeriveIden)]
enum MirroredProviders {
    Table,
    Id,
    Upstream,
    Namespace,
    ProviderType,
    CreatedAt,
    LastSyncedAt,
}

#[derive(DeriveIden)]
enum MirroredProviderVersions {
    Table,
    Id,
    ProviderId,
    Version,
    Protocols,
    Shasums,
    KeyFingerprint,
    VerifiedAt,
}

#[derive(DeriveIden)]
enum MirroredProviderPackages {
    Table,
    Id,
    VersionId,
    Os,
    Arch,
    Filename,
    Sha256,
    H1,
    Size,
    BlobKey,
    FetchedAt,
}

/// Every table here is keyed by id.
#[derive(DeriveIden)]
enum Common {
    Id,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, Common::Id)
        .on_delete(ForeignKeyAction::Cascade)
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
    use MirrorConfigurations as C;
    use MirrorSyncHistory as H;
    use MirroredProviderPackages as K;
    use MirroredProviderVersions as V;
    use MirroredProviders as P;
    vec![
        Table::create()
            .table(C::Table)
            .col(pk_uuid(C::Id))
            .col(string(C::Name))
            .col(string(C::Upstream))
            .col(json_binary(C::Hostnames))
            .col(json_binary(C::Namespaces))
            .col(json_binary(C::ProviderTypes))
            .col(text_null(C::VersionConstraint))
            .col(json_binary(C::Platforms))
            .col(boolean(C::Enabled))
            .col(big_integer(C::SyncIntervalSecs))
            .col(timestamp_with_time_zone(C::CreatedAt))
            .col(timestamp_with_time_zone(C::UpdatedAt))
            .col(timestamp_with_time_zone_null(C::LastSyncAt))
            .col(string_null(C::LastSyncStatus))
            .col(string_null(C::LeaseHolder))
            .col(timestamp_with_time_zone_null(C::LeaseExpiresAt))
            .to_owned(),
        Table::create()
            .table(H::Table)
            .col(pk_uuid(H::Id))
            .col(uuid(H::ConfigId))
            .col(string(H::Trigger))
            .col(string(H::Holder))
            .col(timestamp_with_time_zone(H::StartedAt))
            .col(timestamp_with_time_zone_null(H::FinishedAt))
            .col(string(H::Status))
            .col(big_integer(H::VersionsFetched))
            .col(big_integer(H::PackagesFetched))
            .col(big_integer(H::BytesFetched))
            .col(json_binary(H::Failures))
            .col(text_null(H::Message))
            .foreign_key(&mut fk(
                "fk_mirror_sync_history_config",
                (H::Table, H::ConfigId),
                C::Table,
            ))
            .to_owned(),
        Table::create()
            .table(P::Table)
            .col(pk_uuid(P::Id))
            .col(string(P::Upstream))
            .col(string(P::Namespace))
            .col(string(P::ProviderType))
            .col(timestamp_with_time_zone(P::CreatedAt))
            .col(timestamp_with_time_zone_null(P::LastSyncedAt))
            .to_owned(),
        Table::create()
            .table(V::Table)
            .col(pk_uuid(V::Id))
            .col(uuid(V::ProviderId))
            .col(string(V::Version))
            .col(json_binary(V::Protocols))
            .col(text(V::Shasums))
            .col(string(V::KeyFingerprint))
            .col(timestamp_with_time_zone(V::VerifiedAt))
            .foreign_key(&mut fk(
                "fk_mirrored_provider_versions_provider",
                (V::Table, V::ProviderId),
                P::Table,
            ))
            .to_owned(),
        Table::create()
            .table(K::Table)
            .col(pk_uuid(K::Id))
            .col(uuid(K::VersionId))
            .col(string(K::Os))
            .col(string(K::Arch))
            .col(string(K::Filename))
            .col(string(K::Sha256))
            .col(string(K::H1))
            .col(big_integer(K::Size))
            .col(string(K::BlobKey))
            .col(timestamp_with_time_zone(K::FetchedAt))
            .foreign_key(&mut fk(
                "fk_mirrored_provider_packages_version",
                (K::Table, K::VersionId),
                V::Table,
            ))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    use MirrorConfigurations as C;
    use MirrorSyncHistory as H;
    use MirroredProviderPackages as K;
    use MirroredProviderVersions as V;
    use MirroredProviders as P;
    vec![
        index(
            "ux_mirror_configurations_name",
            C::Table,
            vec![C::Name.into_iden()],
            true,
        ),
        // A configuration's history, newest first, and its abandoned runs.
        index(
            "ix_mirror_sync_history_config_started",
            H::Table,
            vec![H::ConfigId.into_iden(), H::StartedAt.into_iden()],
            false,
        ),
        index(
            "ux_mirrored_providers_upstream_namespace_type",
            P::Table,
            vec![
                P::Upstream.into_iden(),
                P::Namespace.into_iden(),
                P::ProviderType.into_iden(),
            ],
            true,
        ),
        index(
            "ux_mirrored_provider_versions_provider_version",
            V::Table,
            vec![V::ProviderId.into_iden(), V::Version.into_iden()],
            true,
        ),
        index(
            "ux_mirrored_provider_packages_version_os_arch",
            K::Table,
            vec![
                K::VersionId.into_iden(),
                K::Os.into_iden(),
                K::Arch.into_iden(),
            ],
            true,
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
        let drops: [DynIden; 5] = [
            MirroredProviderPackages::Table.into_iden(),
            MirroredProviderVersions::Table.into_iden(),
            MirroredProviders::Table.into_iden(),
            MirrorSyncHistory::Table.into_iden(),
            MirrorConfigurations::Table.into_iden(),
        ];
        for table in drops {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    /// Never leave a half-applied migration.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
